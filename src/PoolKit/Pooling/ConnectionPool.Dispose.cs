using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Disposal: refuse new acquires, fail waiters, destroy idle resources, drain leased ones.</content>
public sealed partial class ConnectionPool<T>
{
    /// <summary>
    /// Disposes the pool: new acquires throw <see cref="ObjectDisposedException"/>, waiters fail at once, idle
    /// resources are destroyed, and leased ones are destroyed when returned. Waits up to
    /// <see cref="ConnectionPoolOptions.DisposeTimeout"/> for outstanding leases to come back.
    /// </summary>
    /// <returns>A task that completes when every resource is destroyed or the timeout elapsed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!BeginDispose())
        {
            return;
        }

        if (Volatile.Read(ref _live) > 0 && _options.DisposeTimeout != TimeSpan.Zero)
        {
            try
            {
                await (_options.DisposeTimeout == Timeout.InfiniteTimeSpan
                    ? _drained.Task
                    : _drained.Task.WaitAsync(_options.DisposeTimeout, _time)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                _logger.DisposeTimedOut(Name, _options.DisposeTimeout.TotalMilliseconds, Volatile.Read(ref _live));
            }
        }

        AssertDrainedIfDrained();

        _metrics.Dispose();
    }

    /// <summary>
    /// Disposes the pool without waiting: like <see cref="DisposeAsync"/>, but outstanding leases and
    /// asynchronous destructions finish in the background.
    /// </summary>
    public void Dispose()
    {
        if (BeginDispose())
        {
            _metrics.Dispose();
        }
    }

    /// <summary>Debug builds: once a disposed pool has drained, the quiescent invariants must hold exactly.</summary>
    [System.Diagnostics.Conditional("DEBUG")]
    private void AssertDrainedIfDrained()
    {
        if (_drained.Task.IsCompleted)
        {
            AssertInvariantsQuiescent(countersSettled: false);
        }
    }

    private bool BeginDispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return false;
        }

        _maintenanceTimer.Dispose();
        _waiters.Dispose();

        // Idle resources go now; PublishIdle re-checks the flag after publishing, so none slips through.
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            if (Volatile.Read(ref slots[i]) is { } slot && slot.TryTransition(SlotState.Idle, SlotState.Leased))
            {
                _ = DestroyOwned(slot, DestroyReason.PoolDisposed);
            }
        }

        if (Volatile.Read(ref _live) == 0)
        {
            _drained.TrySetResult();
        }

        _logger.PoolDisposed(Name);
        return true;
    }
}
