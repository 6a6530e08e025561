using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Returning: end the lease, check, reset, release (see ConnectionPool.HandOff.cs).</content>
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
    /// <param name="slot">The leased slot.</param>
    /// <param name="version">The lease's version.</param>
    /// <param name="strict">Throw on a second return instead of ignoring it.</param>
    /// <param name="cancellationToken">Cancels <i>waiting</i> for an asynchronous reset; the reset itself goes on, bounded by <see cref="ConnectionPoolOptions.ResetTimeout"/>.</param>
    /// <returns>A task that completes when the resource is idle again, handed off or being destroyed.</returns>
    internal ValueTask Return(Slot<T> slot, long version, bool strict, CancellationToken cancellationToken)
    {
        // Everything read before the CAS that ends the lease is acted on only if that CAS wins, i.e. if the lease was
        // still current and this call is its only return. A stale duplicate return, whose lease ended meanwhile (the
        // slot may be somebody else's by now), fails this early look or, racing a concurrent duplicate, the CAS.
        long now = _clock.Cached;
        if (Volatile.Read(ref slot.Word) != Slot<T>.Pack(version, SlotState.Leased))
        {
            return AlreadyReturned(strict);
        }

        long useStart = slot.UseStartPrecise;
        DestroyReason? reason = CheckOnReturn(slot, now);

        // One step when nothing lies between ending the lease and publishing the slot (nothing to reset, nothing to
        // destroy, nobody waiting): the CAS (v, Leased) → (v + 1, Idle) does both; otherwise (v, Leased) → (v + 1, Leased)
        // ends the lease only, and this call owns the slot (still Leased) until it releases or destroys it. A pool shrunk
        // below its live count (Resize) takes the two steps: MakeAvailable destroys the excess.
        bool publish = reason is null && _traits.ResetsNothing && _waiters.Count == 0 && Volatile.Read(ref _live) <= _options.MaxSize;
        if (publish)
        {
            // Written before the CAS that publishes it; the next owner's winning CAS acquires it.
            slot.IdleSince = now;
#if DEBUG
            TestHookBeforePublishIdle?.Invoke();
#endif
        }

        // Interlocked: a full fence, so the reads in AfterPublishIdle cannot move before the publication.
        if (!slot.TryEndLease(version, publish ? SlotState.Idle : SlotState.Leased))
        {
            return AlreadyReturned(strict);
        }

        if (useStart != 0 && _metrics.UseTimeEnabled)
        {
            _metrics.RecordUseTime(_time.GetElapsedTime(useStart));
        }

        if (publish)
        {
            AfterPublishIdle(slot);
            return default;
        }

        if (reason is not null)
        {
            _ = DestroyOwned(slot, reason.GetValueOrDefault());
            return default;
        }

        if (_traits.ResetsNothing)
        {
            Release(slot, now);
            return default;
        }

        // The reset is bounded by its own token (ResetTimeout), never by the caller's: a caller that stops waiting
        // does not cancel the reset (PERF: the source is the slot's, reused; its timer is armed only if the reset
        // goes asynchronous, so a synchronous reset costs no timer).
        CancellationTokenSource bound = slot.CheckBound ??= new CancellationTokenSource();
        ValueTask<bool> reset;
        try
        {
            reset = _policy.ResetAsync(slot.Resource!, bound.Token);
        }
#pragma warning disable CA1031 // A reset that throws says "destroy it"; logged.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            reset = ValueTask.FromException<bool>(ex);
        }

        if (reset.IsCompleted)
        {
            (bool ok, Exception? error) = Outcome(reset);
            if (ok)
            {
                Release(slot, now);
            }
            else
            {
                _logger.ResetFailed(Name, slot.Index, error);
                _ = DestroyOwned(slot, DestroyReason.ResetFailed);
            }

            return default;
        }

        // The resource is on its way back: from now on nobody creates because of it (see "No surplus creation").
        Interlocked.Increment(ref _returning);
        Task finished = FinishCheckAsync(slot, reset, bound, _options.ResetTimeout, DestroyReason.ResetFailed);
        return cancellationToken.CanBeCanceled ? new ValueTask(finished.WaitAsync(cancellationToken)) : new ValueTask(finished);
    }

    /// <summary>A return of a lease that already ended: an error if <paramref name="strict"/>, else nothing.</summary>
    private ValueTask AlreadyReturned(bool strict)
    {
        if (strict)
        {
            ThrowHelper.ThrowAlreadyReturned(Name);
        }

        return default;
    }

    /// <summary>The policy's <see cref="IResourcePolicy{T}.IsClosedByCaller"/>; one that throws says "no".</summary>
    private bool IsClosedByCaller(Slot<T> slot)
    {
        try
        {
            return slot.Resource is { } resource && _policy.IsClosedByCaller(resource);
        }
#pragma warning disable CA1031 // A check that throws says "not closed": the reset decides then.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    private DestroyReason? CheckOnReturn(Slot<T> slot, long now)
    {
        if (slot.MarkedForDestruction != 0)
        {
            return (DestroyReason)(slot.MarkedForDestruction - 1);
        }

        if (!_traits.NeverClosedByCaller && IsClosedByCaller(slot))
        {
            return DestroyReason.ClosedByCaller;
        }

        if (IsDisposed)
        {
            return DestroyReason.PoolDisposed;
        }

        // The cheap usability check belongs to the hand-out gate (CheckOnHandOut): once per cycle is enough, and a
        // resource that broke while leased is caught there (or by the reset, which then fails).
        if (slot.Generation != Volatile.Read(ref _generation))
        {
            return DestroyReason.Cleared;
        }

        return now >= slot.ExpiresAt ? DestroyReason.Expired : null;
    }
}
