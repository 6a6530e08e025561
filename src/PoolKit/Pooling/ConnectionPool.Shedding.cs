using PoolKit.Internal;

namespace PoolKit;

/// <content>
/// Shedding (<see cref="ConnectionPoolOptions.QueueTimeTarget"/>): an acquire that, by the pool's own estimate
/// (<see cref="QueueWaitEstimator"/>), would wait longer than the target or than its own deadline allows fails at once
/// instead of queueing.
/// </content>
/// <remarks>
/// The decision is made once, when an acquirer is about to queue (never on the fast path, which never waits): the
/// estimate for its position (waiters ahead + 1) against the smaller of the target and the time left to its deadline.
/// The estimator is fed by every waiter served, when its caller takes the lease (<see cref="EndWait"/>: one exact clock
/// read and two interlocked operations on the waiting path; nothing on the fast path). <see cref="_totalShed"/>:
/// Interlocked.
/// </remarks>
public sealed partial class ConnectionPool<T>
{
    /// <summary>The queue-wait estimator, fed by every waiter served; shedding and the creation decision (ConnectionPool.CreationBenefit.cs) read it.</summary>
    private readonly QueueWaitEstimator _queueEstimate = new();

    /// <summary><see cref="ConnectionPoolOptions.QueueTimeTarget"/> in pool-clock ticks; <see cref="long.MaxValue"/> when off.</summary>
    private long _queueTimeTargetTicks = long.MaxValue;

    /// <summary>Acquires shed; Interlocked.</summary>
    private long _totalShed;

    /// <summary>Turns shedding on if the options ask for it; called once by the constructor.</summary>
    private void InitializeShedding()
    {
        if (_options.QueueTimeTarget is { } target)
        {
            _queueTimeTargetTicks = ToTicks(target);
        }
    }

    /// <summary>The error of an acquire about to queue that cannot be served within its budget, or <see langword="null"/> to queue it.</summary>
    /// <param name="start">When the acquire started.</param>
    /// <param name="now">Now (exact).</param>
    /// <param name="deadline">The acquire's deadline.</param>
    private PoolExhaustedException? ShedIfOverloaded(long start, long now, long deadline)
    {
        int ahead = _waiters.Count;
        long estimate = _queueEstimate.Estimate(ahead);
        if (estimate < 0)
        {
            // No history: queue as always.
            return null;
        }

        long budget = Math.Min(_queueTimeTargetTicks, deadline == long.MaxValue ? long.MaxValue : deadline - now);
        if (estimate <= budget)
        {
            return null;
        }

        Interlocked.Increment(ref _totalShed);
        return new PoolExhaustedException(Name, Elapsed(start, now), GetStatistics(), _options.AcquireTimeout, _options.MaxWaiters, Elapsed(0, estimate), byDeadline: budget != _queueTimeTargetTicks);
    }
}
