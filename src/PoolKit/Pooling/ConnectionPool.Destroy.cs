using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Destroying and freeing: a resource leaves, its slot becomes <c>Empty</c>, and the room it leaves is offered to waiters.</content>
public sealed partial class ConnectionPool<T>
{
    /// <summary>Destroys the resource of an owned (<c>Leased</c>) slot and frees the slot.</summary>
    /// <returns>A task that completes when the slot is free again; it never faults.</returns>
    /// <remarks>A destruction is bounded by <see cref="ConnectionPoolOptions.DestroyTimeout"/>: one still running then is abandoned (logged and counted), its slot freed, and its task observed in the background.</remarks>
    private Task DestroyOwned(Slot<T> slot, DestroyReason reason)
    {
        slot.Transition(SlotState.Leased, SlotState.Destroying);
        T? resource = slot.Resource;
        slot.Resource = null;
        slot.AcquireStackTrace = null;
        Interlocked.Increment(ref _destroyedBy[(int)reason]);
        _logger.ResourceDestroyed(Name, slot.Index, ReasonText(reason));
        if (resource is null)
        {
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        ValueTask destroy;
        try
        {
            destroy = _policy.DestroyAsync(resource);
        }
#pragma warning disable CA1031 // Destroy errors are logged and otherwise ignored (documented).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, slot.Index, ex);
            Ledger(resources: -1);
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        if (destroy.IsCompletedSuccessfully)
        {
            Ledger(resources: -1);
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        return FinishDestroyAsync(slot, destroy.AsTask(), reason);
    }

    private async Task FinishDestroyAsync(Slot<T> slot, Task destroy, DestroyReason reason)
    {
        bool destroyed = true;
        try
        {
            await destroy.WaitAsync(_options.DestroyTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            if (await WaitOutOrTakeAbandonBudgetAsync(destroy).ConfigureAwait(false))
            {
                // Abandoned: the slot is freed now and the destruction observed in the background; it counts as
                // destroyed only once it has ended (ObserveAbandonedAsync).
                _logger.DestroyAbandoned(Name, slot.Index, _options.DestroyTimeout.TotalMilliseconds);
                Interlocked.Increment(ref _totalAbandoned);
                Interlocked.Decrement(ref _destroyedBy[(int)reason]);
                destroyed = false;
                _ = ObserveAbandonedAsync(destroy, slot.Index, reason);
            }
            else if (destroy.Exception is { } late)
            {
                // It ended while the budget was spent (the slot stayed taken meanwhile: callers waited).
                _logger.DestroyFailed(Name, slot.Index, late.GetBaseException());
            }
        }
#pragma warning disable CA1031 // Destroy errors are logged and otherwise ignored (documented).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, slot.Index, ex);
        }
        finally
        {
            if (destroyed)
            {
                Ledger(resources: -1);
            }

            FreeDestroyed(slot, destroyed);
        }
    }

    /// <summary>
    /// Takes one unit of the abandonment budget (<see cref="AbandonBudget"/>): abandoned work still running, whose
    /// resource still exists outside the slots, never exceeds it. Given back by whoever ends that work.
    /// </summary>
    /// <returns><see langword="false"/> if the budget is spent: the caller keeps waiting for the work instead of abandoning it.</returns>
    private bool TryTakeAbandonBudget()
    {
        int running = Volatile.Read(ref _abandonedRunning);
        while (running < AbandonBudget)
        {
            int seen = Interlocked.CompareExchange(ref _abandonedRunning, running + 1, running);
            if (seen == running)
            {
                Ledger(abandoned: 1);
                return true;
            }

            running = seen;
        }

        return false;
    }

    /// <summary>How much abandoned work may run at once: <see cref="ConnectionPoolOptions.MaxSize"/>. So live resources plus abandoned ones never exceed twice MaxSize.</summary>
    private int AbandonBudget => _options.MaxSize;

    /// <summary>
    /// Work that outlived its bound and may be abandoned: takes a unit of the budget now, or else waits until the work
    /// ends or a unit is given back (then takes it). Without the second look, work waited out because the budget was
    /// spent held its slot for ever although the budget was freed later (found by the exploration's abandonment
    /// scenario, depth-first schedule 2364 of 3000: a hung destruction waited out behind an abandoned reset that ended).
    /// </summary>
    /// <returns><see langword="true"/> if a unit was taken (abandon the work); <see langword="false"/> if the work ended first.</returns>
    private async Task<bool> WaitOutOrTakeAbandonBudgetAsync(Task work)
    {
        while (!work.IsCompleted)
        {
            // Ordering: the signal is taken before the attempt, so a unit given back after a failed attempt completes it.
            Task freed = AbandonBudgetFreed();
            if (TryTakeAbandonBudget())
            {
                return true;
            }

            await Task.WhenAny(work, freed).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>The task <see cref="GiveBackAbandonBudget"/> completes next.</summary>
    private Task AbandonBudgetFreed()
    {
        // No RunContinuationsAsynchronously: the waiter looks again on the thread that gave the unit back, as every
        // continuation on the policy's work does (the exploration controls that thread; the thread pool it does not).
        TaskCompletionSource? freed = Volatile.Read(ref _abandonBudgetFreed);
        if (freed is null)
        {
            var fresh = new TaskCompletionSource();
            freed = Interlocked.CompareExchange(ref _abandonBudgetFreed, fresh, null) ?? fresh;
        }

        return freed.Task;
    }

    /// <summary>Gives a unit of the abandonment budget back, once the abandoned work has ended, and wakes work waited out for want of it.</summary>
    private void GiveBackAbandonBudget()
    {
        Interlocked.Decrement(ref _abandonedRunning);
        Interlocked.Exchange(ref _abandonBudgetFreed, null)?.TrySetResult();
    }

    /// <summary>
    /// Gives up an owned slot whose check (reset or validation) ignored its bound, with a unit of the abandonment
    /// budget already taken: the slot is freed at once, and the resource is destroyed in the background when the check
    /// finally ends (counted destroyed then, abandoned now).
    /// </summary>
    private void AbandonOwned(Slot<T> slot, Task check, DestroyReason reason)
    {
        slot.Transition(SlotState.Leased, SlotState.Destroying);
        T resource = slot.Resource!;
        slot.Resource = null;
        slot.AcquireStackTrace = null;
        Interlocked.Increment(ref _totalAbandoned);
        FreeDestroyed(slot, destroyed: false);
        _ = DestroyAbandonedAsync(check, resource, slot.Index, reason);
    }

    /// <summary>
    /// Waits out a check that outlived its bound: abandons it if the budget allows (<see cref="AbandonOwned"/>), else
    /// waits for it to end and destroys the resource (the slot stays taken meanwhile: callers wait, as with Npgsql).
    /// </summary>
    private async Task AbandonOrWaitOutAsync(Slot<T> slot, Task check, DestroyReason reason, string what, TimeSpan limit)
    {
        if (await WaitOutOrTakeAbandonBudgetAsync(check).ConfigureAwait(false))
        {
            _logger.CheckAbandoned(Name, slot.Index, what, limit.TotalMilliseconds);
            AbandonOwned(slot, check, reason);
            return;
        }

        await DestroyOwned(slot, reason).ConfigureAwait(false);
    }

    private async Task DestroyAbandonedAsync(Task check, T resource, int index, DestroyReason reason)
    {
        try
        {
            await check.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await _policy.DestroyAsync(resource).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Logged; nobody else can observe it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, index, ex);
        }
        finally
        {
            CountDestroyed(reason);
            GiveBackAbandonBudget();
            Ledger(resources: -1, abandoned: -1);
        }
    }

    private async Task ObserveAbandonedAsync(Task destroy, int index, DestroyReason reason)
    {
        try
        {
            await destroy.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Logged; nobody else can observe it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, index, ex);
        }
        finally
        {
            CountDestroyed(reason);
            GiveBackAbandonBudget();
            Ledger(resources: -1, abandoned: -1);
        }
    }

    /// <summary>Counts an abandoned resource destroyed once its destruction has really ended.</summary>
    private void CountDestroyed(DestroyReason reason)
    {
        Interlocked.Increment(ref _destroyedBy[(int)reason]);
        Interlocked.Increment(ref _totalDestroyed);
    }

    /// <summary>Frees a slot whose resource left.</summary>
    /// <param name="slot">The slot, <c>Destroying</c>.</param>
    /// <param name="destroyed">Whether the resource's destruction ended (counted destroyed); <see langword="false"/> when it was abandoned (counted when it ends).</param>
    private void FreeDestroyed(Slot<T> slot, bool destroyed = true)
    {
        if (destroyed)
        {
            Interlocked.Increment(ref _totalDestroyed);
        }

        slot.Transition(SlotState.Destroying, SlotState.Empty);
        OfferFreedRoom(UncountFreedSlot());
    }

    /// <summary>Uncounts a slot that became <c>Empty</c> (after, so non-empty slots ≤ live holds).</summary>
    /// <returns>The live count after.</returns>
    private int UncountFreedSlot()
    {
        int live = Interlocked.Decrement(ref _live);
        Ledger(live: -1);
        AssertCountersInRange();
        return live;
    }

    /// <summary>
    /// Offers the room a freed slot left to waiters (the creation decision) and maintenance, or signals the drain of a
    /// disposed pool. The one routine every freed slot ends in (a destruction ended or abandoned, a creation failed).
    /// </summary>
    /// <param name="live">The live count after the slot was uncounted.</param>
    private void OfferFreedRoom(int live)
    {
        if (IsDisposed)
        {
            if (live == 0)
            {
                _drained.TrySetResult();
            }

            return;
        }

        if (_waiters.Count > 0)
        {
            StartCreationsForWaiters();
        }

        if (live < _options.MinSize)
        {
            KickMaintenance();
        }
    }

    private static string ReasonText(DestroyReason reason) => reason switch
    {
        DestroyReason.Broken => "marked broken by its user",
        DestroyReason.ClosedByCaller => "closed by its user",
        DestroyReason.Unusable => "failed the usability check",
        DestroyReason.ValidationFailed => "failed validation",
        DestroyReason.ResetFailed => "could not be reset",
        DestroyReason.Expired => "reached MaxLifetime",
        DestroyReason.IdleTimeout => "idle longer than IdleTimeout",
        DestroyReason.Cleared => "the pool was cleared",
        DestroyReason.PoolDisposed => "the pool was disposed",
        DestroyReason.Resized => "the pool was shrunk below its live count",
        _ => reason.ToString(),
    };
}
