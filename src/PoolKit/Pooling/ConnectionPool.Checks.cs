using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>
/// The policy's checks that may run asynchronously: validation before a stale resource is handed out, and the reset of a
/// returned one. Each is bounded (<see cref="ConnectionPoolOptions.ValidationTimeout"/>,
/// <see cref="ConnectionPoolOptions.ResetTimeout"/>): its token is canceled at the bound, and a check that ignores its
/// token is abandoned shortly after (<see cref="AbandonGrace"/>): the slot is freed, the resource is destroyed in the
/// background once the check finally ends, and both are logged and counted. Every task given up on is still observed.
/// </content>
public sealed partial class ConnectionPool<T>
{
    /// <summary>How long after a check's token was canceled the pool waits for the check to end before abandoning it: a tenth of the bound, at most one second.</summary>
    private static TimeSpan AbandonGrace(TimeSpan bound) => TimeSpan.FromTicks(Math.Min(bound.Ticks / 10, TimeSpan.TicksPerSecond));

    /// <summary>Runs the policy's validation on an owned slot, for an acquirer; destroys the resource when it fails.</summary>
    /// <returns><see langword="true"/> if the resource may be handed out.</returns>
    /// <remarks>The acquirer stops waiting at its deadline even if the validation ignores its token; the resource is then destroyed once the validation ends.</remarks>
    private async ValueTask<bool> ValidateOwnedAsync(Slot<T> slot, long deadline, CancellationToken cancellationToken)
    {
        TimeSpan limit = _options.ValidationTimeout;
        if (deadline != long.MaxValue)
        {
            TimeSpan remaining = Elapsed(_clock.Now, deadline);
            if (remaining < limit)
            {
                limit = remaining > TimeSpan.Zero ? remaining : TimeSpan.FromTicks(1);
            }
        }

        // The bound's timer never runs a throwing callback of the policy's on the timer thread (TimedCancellation).
        using var linked = new TimedCancellation(_time, limit, cancellationToken);
        Exception? error = null;
        bool valid;
        ValueTask<bool> validation;
        try
        {
            validation = _policy.ValidateAsync(slot.Resource!, linked.Token);
        }
#pragma warning disable CA1031 // A validation that throws says "invalid".
        catch (Exception ex)
#pragma warning restore CA1031
        {
            validation = ValueTask.FromException<bool>(ex);
        }

        if (validation.IsCompleted)
        {
            (valid, error) = Outcome(validation);
        }
        else
        {
            Task<bool> pending = validation.AsTask();
            try
            {
                valid = await pending.WaitAsync(linked.Token).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Logged below; the resource is destroyed.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                valid = false;
                error = ex;
            }

            if (!pending.IsCompleted)
            {
                // Given up on at its bound, the acquirer's deadline or cancellation while the validation still runs
                // (its token is canceled): the pool takes it over, destroys the resource when it ends, and abandons it
                // if it ignores its token beyond the grace, like a reset (never a slot held for ever).
                _logger.ValidationFailed(Name, slot.Index, error);
                Interlocked.Increment(ref _returning);
                _ = DestroyWhenCheckEndsAsync(slot, pending, limit);
                cancellationToken.ThrowIfCancellationRequested();
                return false;
            }
        }

        if (!valid)
        {
            _logger.ValidationFailed(Name, slot.Index, error);
            _ = DestroyOwned(slot, DestroyReason.ValidationFailed);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return valid;
    }

    /// <summary>
    /// Validates an owned slot whose resource was idle beyond the validation window, for a hand-out that cannot wait
    /// (<see cref="TryAcquire"/>, a hand-off to a waiter): <see langword="true"/> if the policy answered "valid" at
    /// once (the idle time starts over); <see langword="false"/> if it answered "invalid" or threw (logged, and the
    /// resource destroyed); <see langword="null"/> if it would have to wait (it goes on in the background, owns the
    /// slot and releases it when it ends).
    /// </summary>
    private bool? ValidateStaleNow(Slot<T> slot, long now)
    {
        CancellationTokenSource bound = slot.CheckBound ??= new CancellationTokenSource();
        ValueTask<bool> validation;
        try
        {
            validation = _policy.ValidateAsync(slot.Resource!, bound.Token);
        }
#pragma warning disable CA1031 // A validation that throws says "invalid".
        catch (Exception ex)
#pragma warning restore CA1031
        {
            validation = ValueTask.FromException<bool>(ex);
        }

        if (validation.IsCompleted)
        {
            (bool ok, Exception? error) = Outcome(validation);
            if (ok)
            {
                slot.IdleSince = now;
            }
            else
            {
                _logger.ValidationFailed(Name, slot.Index, error);
                _ = DestroyOwned(slot, DestroyReason.ValidationFailed);
            }

            return ok;
        }

        // It went asynchronous: let it finish in the background, bounded by ValidationTimeout, and release the slot
        // only afterwards. Until then it counts as on its way (no creation because of it).
        Interlocked.Increment(ref _returning);
        _ = FinishCheckAsync(slot, validation, bound, _options.ValidationTimeout, DestroyReason.ValidationFailed);
        return null;
    }

    /// <summary>
    /// Waits for an asynchronous reset or validation of an owned slot counted in <see cref="_returning"/>, bounded by
    /// <paramref name="limit"/>, then releases the slot, or destroys the resource if the check said no, threw, timed
    /// out or was abandoned. Never faults.
    /// </summary>
    private async Task FinishCheckAsync(Slot<T> slot, ValueTask<bool> check, CancellationTokenSource bound, TimeSpan limit, DestroyReason onFailure)
    {
        bool ok;
        Exception? error = null;
        Task<bool> pending = check.AsTask();
        ITimer cancelAtBound;
        using (ExecutionContext.SuppressFlow())
        {
            cancelAtBound = _time.CreateTimer(static s => TimedCancellation.CancelQuietly((CancellationTokenSource)s!), bound, limit, Timeout.InfiniteTimeSpan);
        }

        try
        {
            ok = await pending.WaitAsync(limit + AbandonGrace(limit), _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // It ignored its token: abandon it within the budget (the slot is freed now, the resource destroyed when
            // the check ends), or else wait it out.
            cancelAtBound.Dispose();
            slot.CheckBound = null;
            await AbandonOrWaitOutAsync(slot, pending, onFailure, onFailure == DestroyReason.ValidationFailed ? "validation" : "reset", limit).ConfigureAwait(false);
            EndOnItsWay(ref _returning);
            return;
        }
#pragma warning disable CA1031 // Logged below; the resource is destroyed.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ok = false;
            error = ex;
        }

        cancelAtBound.Dispose();
        if (bound.IsCancellationRequested)
        {
            // A canceled source cannot be reused; the next check of this slot makes a new one.
            slot.CheckBound = null;
            bound.Dispose();
        }

        if (ok)
        {
            // A validation that just passed is not repeated for the waiter it goes to; a reset is not a validation.
            Release(slot, _clock.Now, justChecked: onFailure == DestroyReason.ValidationFailed);
        }
        else
        {
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

        // Ordering: the slot is released (or its destruction begun) before it stops counting as on its way, so a
        // reader that sees the decrement also sees the waiter it served. Then the decision runs again, whether the
        // resource was kept or not: kept, it may have been destroyed since its release (a waiter's failed reset or
        // validation) while this check still counted as on its way and held a creation back (issue 19, defect 12); a
        // kept resource still idle or in a waiter's rescan is seen by the decision's look or counted as in transit, so
        // no creation starts because of it (guard: ResetTailRunsWhileAWaitersRescanHoldsTheSlot_…).
#if DEBUG
        TestHookBeforeCheckTail?.Invoke();
#endif
        EndOnItsWay(ref _returning);
    }

    /// <summary>
    /// Destroys an owned slot's resource once an acquirer's validation, given up on and whose token was canceled, has
    /// ended; abandons it (the slot freed now, the resource destroyed when it ends) if it has not ended within the
    /// grace. The slot is counted in <see cref="_returning"/> meanwhile. Never faults.
    /// </summary>
    private async Task DestroyWhenCheckEndsAsync(Slot<T> slot, Task pending, TimeSpan limit)
    {
        Task ended = pending.WaitAsync(AbandonGrace(limit), _time);
        await ended.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (pending.IsCompleted)
        {
            _ = DestroyOwned(slot, DestroyReason.ValidationFailed);
        }
        else
        {
            await AbandonOrWaitOutAsync(slot, pending, DestroyReason.ValidationFailed, "validation", limit).ConfigureAwait(false);
        }

        // Ordering: the slot is freed (or its destruction begun) before it stops counting as on its way.
        EndOnItsWay(ref _returning);
    }

    private static (bool Ok, Exception? Error) Outcome(ValueTask<bool> completed)
    {
        try
        {
            return (completed.GetAwaiter().GetResult(), null);
        }
#pragma warning disable CA1031 // A check that throws says "no".
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return (false, ex);
        }
    }
}
