using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Returning: reset, hand-off to the longest waiter or back to idle, and destruction.</content>
public sealed partial class ConnectionPool<T>
{
    /// <inheritdoc />
    public ValueTask ReturnAsync(PoolLease<T> lease, CancellationToken cancellationToken = default)
    {
        if (!ReferenceEquals(lease.Pool, this) || lease.Slot is null)
        {
            throw new ForeignLeaseException(Name, lease.Pool?.Name);
        }

        return Return(lease.Slot, lease.Version, strict: true, cancellationToken);
    }

    /// <summary>
    /// Ends the lease <paramref name="version"/> of <paramref name="slot"/>: the CAS that advances the slot's lease
    /// version makes sure that only the first return of a lease does anything.
    /// </summary>
    /// <returns>A task that completes when the resource is idle again, handed off or destroyed.</returns>
    internal ValueTask Return(Slot<T> slot, long version, bool strict, CancellationToken cancellationToken)
    {
        if (_traits.ResetsNothing && TryReturnIdleInOneStep(slot, version))
        {
            return default;
        }

        // Two steps: end the lease (the slot stays Leased, now owned by this call), then reset and release it.
        if (!slot.TryEndLease(version, SlotState.Leased))
        {
            if (strict)
            {
                ThrowHelper.ThrowAlreadyReturned(Name);
            }

            return default;
        }

        // From here on this call owns the slot (still Leased) and the lease is dead.
        long now = _clock.Now;
        if (slot.UseStartPrecise != 0 && _metrics.UseTimeEnabled)
        {
            _metrics.RecordUseTime(_time.GetElapsedTime(slot.UseStartPrecise));
        }

        if (CheckOnReturn(slot, now) is { } reason)
        {
            _ = DestroyOwned(slot, reason);
            return default;
        }

        ValueTask<bool> reset;
        try
        {
            reset = _policy.ResetAsync(slot.Resource!, cancellationToken);
        }
        catch (Exception ex)
        {
            _logger.ResetFailed(Name, slot.Index, ex);
            _ = DestroyOwned(slot, DestroyReason.ResetFailed);
            return default;
        }

        if (reset.IsCompletedSuccessfully)
        {
            if (reset.Result)
            {
                Release(slot, now);
            }
            else
            {
                _logger.ResetFailed(Name, slot.Index, null);
                _ = DestroyOwned(slot, DestroyReason.ResetFailed);
            }

            return default;
        }

        return new ValueTask(ReleaseAfterCheckAsync(slot, reset, DestroyReason.ResetFailed));
    }

    /// <summary>
    /// Waits for an asynchronous reset or validation of an owned slot, then makes the slot available, or logs and
    /// destroys the resource if the check said no or threw.
    /// </summary>
    private async Task ReleaseAfterCheckAsync(Slot<T> slot, ValueTask<bool> check, DestroyReason onFailure)
    {
        bool ok;
        Exception? error = null;
        try
        {
            ok = await check.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ok = false;
            error = ex;
        }

        if (ok)
        {
            Release(slot, _clock.Now);
            return;
        }

        if (onFailure == DestroyReason.ValidationFailed)
        {
            _logger.ValidationFailed(Name, slot.Index, error);
        }
        else
        {
            _logger.ResetFailed(Name, slot.Index, error);
        }

        _ = DestroyOwned(slot, onFailure);
    }

    private DestroyReason? CheckOnReturn(Slot<T> slot, long now)
    {
        if (slot.Broken)
        {
            return DestroyReason.Broken;
        }

        if (IsDisposed)
        {
            return DestroyReason.PoolDisposed;
        }

        // The cheap usability check runs on hand-out only: once per cycle is enough, and a resource that
        // broke while leased is caught there (or by the reset, which then fails).
        if (slot.Generation != Volatile.Read(ref _generation))
        {
            return DestroyReason.Cleared;
        }

        return now >= slot.ExpiresAt ? DestroyReason.Expired : null;
    }

    /// <summary>Makes an owned, freshly used slot available: to the longest waiter if any, else idle.</summary>
    private void Release(Slot<T> slot, long now)
    {
        slot.IdleSince = now;
        ReleaseIdle(slot);
    }

    /// <summary>Makes an owned slot available without touching its idle timestamp.</summary>
    /// <param name="slot">The owned slot.</param>
    /// <param name="handOffAs"><see cref="WaitOutcome.FoundStale"/> when a waiter receiving it must validate it first.</param>
    private void ReleaseIdle(Slot<T> slot, WaitOutcome handOffAs = WaitOutcome.HandedOff)
    {
        if (_waiters.Count > 0 && TryHandOff(slot, handOffAs))
        {
            return;
        }

        TestHookBeforePublishIdle?.Invoke();
        PublishIdle(slot, handOffAs);
    }

    /// <summary>
    /// The common return when the policy resets nothing: if nobody waits and the resource is to be kept, one CAS
    /// <c>(version, Leased) → (version + 1, Idle)</c> ends the lease and publishes the slot together.
    /// </summary>
    /// <returns><see langword="false"/> if the return must take the two-step path (which also reports a second return).</returns>
    private bool TryReturnIdleInOneStep(Slot<T> slot, long version)
    {
        // Everything read before the CAS is only acted on if the CAS wins, i.e. if the lease was still current and
        // this call is its only return. A stale duplicate return, whose lease ended meanwhile, fails the early check
        // (or, racing a concurrent duplicate, the CAS) and changes nothing but, at most, IdleSince below.
        long now = _clock.Now;
        if (Volatile.Read(ref slot.Word) != Slot<T>.Pack(version, SlotState.Leased)
            || _waiters.Count > 0
            || CheckOnReturn(slot, now) is not null)
        {
            return false;
        }

        long useStart = slot.UseStartPrecise;

        // Written before the CAS that publishes it; the next owner's winning CAS acquires it.
        slot.IdleSince = now;
        TestHookBeforePublishIdle?.Invoke();

        // Interlocked: a full fence, so the reads in AfterPublishIdle cannot move before the publication.
        if (!slot.TryEndLease(version, SlotState.Idle))
        {
            return false;
        }

        if (useStart != 0 && _metrics.UseTimeEnabled)
        {
            _metrics.RecordUseTime(_time.GetElapsedTime(useStart));
        }

        AfterPublishIdle(slot, WaitOutcome.HandedOff);
        return true;
    }

    /// <summary>Publishes an owned slot as idle, then closes the races with waiters and with disposal.</summary>
    private void PublishIdle(Slot<T> slot, WaitOutcome handOffAs)
    {
        // Interlocked: a full fence, so the reads below cannot move before the publication (see the type remarks).
        slot.Transition(SlotState.Leased, SlotState.Idle);
        AfterPublishIdle(slot, handOffAs);
    }

    /// <summary>Closes the races of a slot just published as idle with waiters and with disposal.</summary>
    private void AfterPublishIdle(Slot<T> slot, WaitOutcome handOffAs)
    {
        // A waiter that enqueued after our first look rescans after enqueueing; hand the slot over ourselves
        // if it missed it, so that FIFO order holds. Each round either hands off or sees the queue empty.
        while (_waiters.Count > 0 && slot.TryTransition(SlotState.Idle, SlotState.Leased))
        {
            if (TryHandOff(slot, handOffAs))
            {
                return;
            }

            slot.Transition(SlotState.Leased, SlotState.Idle);
        }

        // Disposal sets the flag and then destroys idle slots; whichever of us looks second sees the other.
        if (IsDisposed && slot.TryTransition(SlotState.Idle, SlotState.Leased))
        {
            _ = DestroyOwned(slot, DestroyReason.PoolDisposed);
        }
    }

    /// <summary>Gives an owned slot, still leased, to the longest waiter.</summary>
    /// <returns><see langword="false"/> if nobody (still) waits.</returns>
    private bool TryHandOff(Slot<T> slot, WaitOutcome handOffAs)
    {
        while (_waiters.TryDequeue(out Waiter<T>? waiter, out int epoch))
        {
            if (waiter!.TryComplete(epoch, new WaitResult<T>(slot, handOffAs)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Wakes the longest waiter to look again, because capacity may have freed up.</summary>
    private void WakeOneForRecheck()
    {
        while (_waiters.Count > 0 && _waiters.TryDequeue(out Waiter<T>? waiter, out int epoch))
        {
            if (waiter!.TryComplete(epoch, new WaitResult<T>(null, WaitOutcome.Recheck)))
            {
                return;
            }
        }
    }

    /// <summary>Destroys the resource of an owned (<c>Leased</c>) slot and frees the slot.</summary>
    /// <returns>A task that completes when the slot is free again; it never faults.</returns>
    private Task DestroyOwned(Slot<T> slot, DestroyReason reason)
    {
        slot.Transition(SlotState.Leased, SlotState.Destroying);
        T? resource = slot.Resource;
        slot.Resource = null;
        slot.AcquiredAt = null;
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
        catch (Exception ex)
        {
            _logger.DestroyFailed(Name, slot.Index, ex);
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        if (destroy.IsCompletedSuccessfully)
        {
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        return FinishDestroyAsync(slot, destroy);
    }

    private async Task FinishDestroyAsync(Slot<T> slot, ValueTask destroy)
    {
        try
        {
            await destroy.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.DestroyFailed(Name, slot.Index, ex);
        }
        finally
        {
            FreeDestroyed(slot);
        }
    }

    private void FreeDestroyed(Slot<T> slot)
    {
        Interlocked.Increment(ref _totalDestroyed);
        slot.Transition(SlotState.Destroying, SlotState.Empty);
        OnSlotFreed();
    }

    /// <summary>A slot became <c>Empty</c>: count it, and let a waiter or the maintenance loop use the room.</summary>
    private void OnSlotFreed()
    {
        int live = Interlocked.Decrement(ref _live);
        AssertCountersInRange();
        if (IsDisposed)
        {
            if (live == 0)
            {
                _drained.TrySetResult();
            }

            return;
        }

        WakeOneForRecheck();
        if (live < _options.MinSize)
        {
            KickMaintenance();
        }
    }

    private static string ReasonText(DestroyReason reason) => reason switch
    {
        DestroyReason.Broken => "marked broken by its user",
        DestroyReason.Unusable => "failed the usability check",
        DestroyReason.ValidationFailed => "failed validation",
        DestroyReason.ResetFailed => "could not be reset",
        DestroyReason.Expired => "reached MaxLifetime",
        DestroyReason.IdleTimeout => "idle longer than IdleTimeout",
        DestroyReason.Cleared => "the pool was cleared",
        DestroyReason.PoolDisposed => "the pool was disposed",
        _ => reason.ToString(),
    };
}
