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
        long now = _clock.Cached;
        if (slot.UseStartPrecise != 0 && _metrics.UseTimeEnabled)
        {
            _metrics.RecordUseTime(_time.GetElapsedTime(slot.UseStartPrecise));
        }

        if (CheckOnReturn(slot, now) is { } reason)
        {
            _ = DestroyOwned(slot, reason);
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
