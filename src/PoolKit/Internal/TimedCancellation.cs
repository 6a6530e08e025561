namespace PoolKit.Internal;

/// <summary>
/// A token the pool cancels after a bound, on a timer of its <see cref="TimeProvider"/>, without letting a callback
/// that somebody (a policy, a handler) registered on the token throw on the timer's thread.
/// </summary>
/// <remarks>
/// <para><b>Why not <c>new CancellationTokenSource(delay, timeProvider)</c>.</b> Its timer calls <c>Cancel()</c>, which
/// runs the token's callbacks inline and rethrows their exceptions as an <see cref="AggregateException"/> on the timer
/// thread, where nothing catches it: one throwing callback ends the process. Here the timer calls
/// <see cref="CancelQuietly"/>, which swallows what the callbacks throw (the operation is ended by the cancellation
/// anyway).</para>
/// <para><b>Concurrency.</b> The owner creates it, reads <see cref="Token"/>, and disposes it once; the timer may fire
/// concurrently with the disposal, which <see cref="CancelQuietly"/> tolerates.</para>
/// </remarks>
internal sealed class TimedCancellation : IDisposable
{
    private static readonly TimerCallback s_cancel = static s => CancelQuietly((CancellationTokenSource)s!);

    private readonly CancellationTokenSource _source;
    private readonly ITimer? _timer;

    /// <summary>Starts the bound.</summary>
    /// <param name="time">The clock whose timer cancels.</param>
    /// <param name="after">The bound; <see cref="Timeout.InfiniteTimeSpan"/> for none.</param>
    /// <param name="linkedTo">A token whose cancellation cancels this one too (the caller's; its callbacks run on the caller's thread).</param>
    public TimedCancellation(TimeProvider time, TimeSpan after, CancellationToken linkedTo = default)
    {
        _source = linkedTo.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(linkedTo) : new CancellationTokenSource();
        if (after != Timeout.InfiniteTimeSpan)
        {
            using (ExecutionContext.SuppressFlow())
            {
                _timer = time.CreateTimer(s_cancel, _source, after, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Gets the token.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>Gets whether the token was canceled (the bound passed, or the linked token was canceled).</summary>
    public bool IsCancellationRequested => _source.IsCancellationRequested;

    /// <summary>Cancels a source, swallowing what its callbacks throw and a disposal that won the race.</summary>
    /// <param name="source">The source.</param>
    public static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: the operation it bounded has ended.
        }
#pragma warning disable CA1031 // A callback that throws must not end the timer thread; the operation is canceled anyway.
        catch (AggregateException)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Stops the timer and disposes the source.</summary>
    public void Dispose()
    {
        _timer?.Dispose();
        _source.Dispose();
    }
}
