using PoolKit.Internal;

namespace PoolKit;

/// <content>
/// Creation only when it helps: a waiter causes a creation only when its expected wait exceeds the expected creation
/// time, both as the pool observed them.
/// </content>
/// <remarks>
/// <para>While acquirers queue, resources come back at the interval the queue-wait estimator measures
/// (<see cref="QueueWaitEstimator"/>: <c>hold time / capacity</c>), so within one creation time <c>c</c> the returns
/// alone serve about <c>c / interval</c> waiters. Only the waiters beyond those would be served sooner by a creation;
/// <see cref="StartCreationsForWaiters()"/> creates for them only. A spike of 50 requests of 2 ms against 5 idle
/// connections (a return every 0.4 ms) with creations taking 150 ms therefore creates nothing: the spike is over long
/// before a new connection would have arrived.</para>
/// <para><b>Opt-in</b> (<see cref="ConnectionPoolOptions.CreateOnlyWhenItHelps"/>). <b>No history, no change.</b> Without a creation time observed and 8 busy service intervals, every creation the
/// demand justifies starts, as before. <b>Liveness.</b> The estimate describes the queue only while it is being served:
/// when nothing was served for a creation time (every lease stuck), it is stale and creations start as before; a
/// decision that held creations back asks the queue to run it again at that moment (<c>WakeUpAt</c>), so a waiter is
/// never left waiting next to free capacity by an estimate that stopped being true.</para>
/// <para><b>Shared state.</b> <see cref="_creationTime"/>: see <see cref="DurationEstimator"/>; written by every
/// successful creation (<c>Created</c>).</para>
/// </remarks>
public sealed partial class ConnectionPool<T>
{
    /// <summary>The observed creation time; one sample is enough (every creation is a real observation).</summary>
    private readonly DurationEstimator _creationTime = new(minSamples: 1);

    /// <summary>How many of the <paramref name="wanted"/> creations would serve a waiter sooner than the returns will.</summary>
    /// <param name="wanted">The creations the demand justifies (waiters beyond the resources on their way).</param>
    /// <param name="waiting">The waiters, the caller included when it is an acquirer about to create for itself.</param>
    /// <returns><paramref name="wanted"/>, or fewer when the estimates say the returns serve the rest first.</returns>
    private int CreationsThatHelp(int wanted, int waiting)
    {
        if (!_options.CreateOnlyWhenItHelps)
        {
            return wanted;
        }

        long create = _creationTime.Mean;
        long interval = _queueEstimate.Interval;
        if (create < 0 || interval < 0)
        {
            return wanted;
        }

        long lastServed = _queueEstimate.LastServed;
        long now = _clock.Now;
        if (now - lastServed >= create)
        {
            // Stale: nothing was served for a creation time.
            return wanted;
        }

        // The waiters the returns serve before a creation started now could complete.
        long servedByReturns = interval == 0 ? long.MaxValue : create / interval;
        long helpful = Math.Max(0, waiting - servedByReturns);
        if (helpful >= wanted)
        {
            return wanted;
        }

        // Held back: look again when the estimate goes stale, in case nothing is served meanwhile.
        _waiters.WakeUpAt(lastServed + create);
        return (int)helpful;
    }
}
