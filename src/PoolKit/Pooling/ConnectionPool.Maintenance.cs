using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Maintenance: idle and lifetime pruning, warm-up to the minimum, leak reports and clearing.</content>
public sealed partial class ConnectionPool<T>
{
    /// <inheritdoc />
    public async ValueTask ClearAsync(CancellationToken cancellationToken = default)
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        // Every resource of an older generation is destroyed on sight from now on: idle ones here, leased
        // ones when returned, creations in flight when they come back.
        int generation = Interlocked.Increment(ref _generation);
        var destructions = new List<Task>();
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            if (Volatile.Read(ref slots[i]) is { } slot
                && slot.CurrentState == SlotState.Idle
                && slot.Generation != generation
                && slot.TryTransition(SlotState.Idle, SlotState.Leased))
            {
                destructions.Add(DestroyOwned(slot, DestroyReason.Cleared));
            }
        }

        _logger.PoolCleared(Name, destructions.Count);
        await Task.WhenAll(destructions).WaitAsync(cancellationToken).ConfigureAwait(false);
        KickMaintenance();
    }

    /// <summary>Asks the maintenance loop to run soon (through the timer, so a fake clock keeps tests deterministic).</summary>
    private void KickMaintenance()
    {
        if (IsDisposed)
        {
            return;
        }

        try
        {
            _maintenanceTimer?.Change(TimeSpan.Zero, _options.MaintenanceInterval);
        }
        catch (ObjectDisposedException)
        {
            // Disposed concurrently: nothing to maintain.
        }
    }

    /// <summary>The timer callback: runs one maintenance pass unless one is running, in which case that one runs again.</summary>
    private void RequestMaintenance()
    {
        if (IsDisposed)
        {
            return;
        }

        Volatile.Write(ref _maintenanceRequested, 1);
        if (Interlocked.CompareExchange(ref _maintenanceRunning, 1, 0) == 0)
        {
            _ = RunMaintenanceAsync();
        }
    }

    /// <summary>Runs maintenance passes until no further pass was requested.</summary>
    private async Task RunMaintenanceAsync()
    {
        try
        {
            while (Interlocked.Exchange(ref _maintenanceRequested, 0) == 1 && !IsDisposed)
            {
                long now = _clock.Now;
                PruneIdle(now);
                ReportLeaks(now);
                await TopUpAsync().ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            _logger.MaintenanceFailed(Name, ex);
        }
        finally
        {
            Volatile.Write(ref _maintenanceRunning, 0);
        }

        // A request that arrived between our last check and the flag reset would otherwise be lost.
        if (Volatile.Read(ref _maintenanceRequested) == 1 && !IsDisposed)
        {
            RequestMaintenance();
        }
    }

    /// <summary>Destroys idle resources that are cleared, expired, or idle too long while above MinSize; coldest slots first.</summary>
    private void PruneIdle(long now)
    {
        int live = Volatile.Read(ref _live);
        int generation = Volatile.Read(ref _generation);
        Slot<T>?[] slots = _slots;
        for (int i = Math.Min(Volatile.Read(ref _allocated), slots.Length) - 1; i >= 0; i--)
        {
            Slot<T>? slot = Volatile.Read(ref slots[i]);
            if (slot is null || slot.CurrentState != SlotState.Idle)
            {
                continue;
            }

            DestroyReason? reason = null;
            if (slot.Generation != generation)
            {
                reason = DestroyReason.Cleared;
            }
            else if (now >= slot.ExpiresAt)
            {
                reason = DestroyReason.Expired;
            }
            else if (live > _options.MinSize && _idleTimeoutTicks != long.MaxValue && now - slot.IdleSince >= _idleTimeoutTicks)
            {
                reason = DestroyReason.IdleTimeout;
            }

            if (reason is not { } r)
            {
                continue;
            }

            // In transit while owned (see HandIdleToWaiters): counted before the CAS, so a newcomer's scan that misses the
            // slot does not create because of it; its end looks again for whoever held back meanwhile.
            Interlocked.Increment(ref _returning);
            if (slot.TryTransition(SlotState.Idle, SlotState.Leased))
            {
                // Owned now: re-check the idle time, the slot may have been used and returned since we looked.
                if (r == DestroyReason.IdleTimeout && now - slot.IdleSince < _idleTimeoutTicks)
                {
                    MakeAvailable(slot, now);
                }
                else
                {
                    live--;
                    _ = DestroyOwned(slot, r);
                }
            }

            EndOnItsWay(ref _returning);
        }
    }

    /// <summary>Creates resources, one at a time, until the pool holds MinSize, the back-off starts or the pool is full.</summary>
    /// <remarks>These creations are the pool's like any other: each is released to the head of the queue, or idle.</remarks>
    private async Task TopUpAsync()
    {
        while (!IsDisposed && Volatile.Read(ref _live) < _options.MinSize)
        {
            int ended = Volatile.Read(ref _endedOnItsWay);
            ReserveResult reserved = TryReserve(_clock.Now, int.MaxValue, Volatile.Read(ref _creating), ended, out Slot<T>? slot);
            if (reserved == ReserveResult.Changed)
            {
                continue;
            }

            if (reserved != ReserveResult.Reserved)
            {
                return;
            }

            Task creation = CreateIntoSlotAsync(slot!).AsTask();
            await creation.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            bool created = FinishCreation(slot!, new ValueTask(creation), lookAgain: true);
            if (!created)
            {
                // Recorded (back-off, log, last error); the next pass tries again.
                return;
            }
        }
    }

    private void ReportLeaks(long now)
    {
        if (_leakTicks == long.MaxValue)
        {
            return;
        }

        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            if (Volatile.Read(ref slots[i]) is { } slot
                && slot.CurrentState == SlotState.Leased
                && slot.Resource is not null
                && now - slot.LeasedAt >= _leakTicks)
            {
                long leasedAt = slot.LeasedAt;
                if (slot.LeakReportedFor != leasedAt)
                {
                    slot.LeakReportedFor = leasedAt;
                    _logger.LeakSuspected(Name, slot.Index, Elapsed(slot.LeasedAt, now).TotalMilliseconds, _options.LeakDetectionThreshold!.Value.TotalMilliseconds, slot.AcquireStackTrace);
                }
            }
        }
    }
}
