using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Acquiring: the synchronous fast path, the waiting slow path and validation.</content>
public sealed partial class ConnectionPool<T>
{
    /// <inheritdoc />
    public ValueTask<PoolLease<T>> AcquireAsync(CancellationToken cancellationToken = default)
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PoolLease<T>>(cancellationToken);
        }

        long now = _clock.Now;

        // Fast path: nobody waits (no barging) and an idle, fresh resource is there.
        if (_waiters.Count == 0 && TryTakeIdle(now, out Slot<T>? slot, out bool needsValidation))
        {
            if (!needsValidation)
            {
                return new ValueTask<PoolLease<T>>(Lease(slot, 0, now));
            }

            return AcquireSlowAsync(slot, now, cancellationToken);
        }

        return AcquireSlowAsync(null, now, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>A resource idle for longer than <see cref="ConnectionPoolOptions.ValidationBypassWindow"/> is handed out only if the policy validates it synchronously; otherwise its validation finishes in the background and this call returns <see langword="false"/>. Nothing is handed out while acquirers wait.</remarks>
    public bool TryAcquire(out PoolLease<T> lease)
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        long now = _clock.Now;
        while (_waiters.Count == 0 && TryTakeIdle(now, out Slot<T>? slot, out bool needsValidation))
        {
            if (!needsValidation)
            {
                lease = Lease(slot, 0, now);
                return true;
            }

            // A stale resource is handed out only if the policy can validate it without waiting.
            bool? valid = TryValidateSynchronously(slot);
            if (valid is null)
            {
                break; // the validation went asynchronous and now owns the slot; it makes it available when done
            }

            if (valid.Value)
            {
                slot.IdleSince = now;
                lease = Lease(slot, 0, now);
                return true;
            }

            _ = DestroyOwned(slot, DestroyReason.ValidationFailed);
        }

        lease = default;
        return false;
    }

    /// <summary>Validates an owned slot if the policy answers synchronously; <see langword="null"/> if it would have to wait.</summary>
    private bool? TryValidateSynchronously(Slot<T> slot)
    {
        try
        {
            ValueTask<bool> validation = _policy.ValidateAsync(slot.Resource!, CancellationToken.None);
            if (validation.IsCompleted)
            {
                return validation.IsCompletedSuccessfully && validation.Result;
            }

            // It went asynchronous: let it finish in the background and put the slot back only afterwards.
            _ = ReleaseAfterCheckAsync(slot, validation, DestroyReason.ValidationFailed);
            return null;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>
    /// Wins the first idle slot by CAS, destroying on the way any resource that is cleared, expired or unusable.
    /// </summary>
    /// <param name="now">The current timestamp.</param>
    /// <param name="slot">The slot won, now <c>Leased</c> and owned by the caller.</param>
    /// <param name="needsValidation">Whether the resource has been idle beyond the bypass window.</param>
    private bool TryTakeIdle(long now, [NotNullWhen(true)] out Slot<T>? slot, out bool needsValidation)
    {
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            Slot<T>? candidate = Volatile.Read(ref slots[i]);
            if (candidate is null || !candidate.TryTransition(SlotState.Idle, SlotState.Leased))
            {
                continue;
            }

            // We own the slot now.
            if (CheckOnHandOut(candidate, now) is { } reason)
            {
                _ = DestroyOwned(candidate, reason);
                continue;
            }

            slot = candidate;
            needsValidation = now - candidate.IdleSince >= _bypassTicks;
            return true;
        }

        slot = null;
        needsValidation = false;
        return false;
    }

    private DestroyReason? CheckOnHandOut(Slot<T> slot, long now)
    {
        if (slot.Generation != Volatile.Read(ref _generation))
        {
            return DestroyReason.Cleared;
        }

        if (now >= slot.ExpiresAt)
        {
            return DestroyReason.Expired;
        }

        if (_traits.AlwaysUsable)
        {
            return null;
        }

        try
        {
            return _policy.IsUsable(slot.Resource!) ? null : DestroyReason.Unusable;
        }
        catch (Exception)
        {
            return DestroyReason.Unusable;
        }
    }

    /// <summary>Turns an owned slot into a lease.</summary>
    /// <param name="slot">The owned slot.</param>
    /// <param name="waitStartPrecise">The precise timestamp the acquire began at, for the wait-time metric; 0 for "did not wait".</param>
    /// <param name="now">The pool clock's current tick.</param>
    private PoolLease<T> Lease(Slot<T> slot, long waitStartPrecise, long now)
    {
        slot.LeasedAt = now;
        slot.Broken = false;
        if (_leakTicks != long.MaxValue)
        {
            slot.AcquiredAt = new StackTrace(2, fNeedFileInfo: true).ToString();
        }

        // PERF: the precise clock is read only while a timing histogram has a listener.
        long precise = 0;
        if (_metrics.UseTimeEnabled | _metrics.WaitTimeEnabled)
        {
            precise = _time.GetTimestamp();
            if (_metrics.WaitTimeEnabled)
            {
                _metrics.RecordWaitTime(waitStartPrecise == 0 ? TimeSpan.Zero : _time.GetElapsedTime(waitStartPrecise, precise));
            }
        }

        slot.UseStartPrecise = precise;
        return new PoolLease<T>(slot, Slot<T>.VersionOf(slot.Word));
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PoolLease<T>> AcquireSlowAsync(Slot<T>? candidate, long start, CancellationToken cancellationToken)
    {
        long deadline = _acquireTimeoutTicks == long.MaxValue ? long.MaxValue : start + _acquireTimeoutTicks;
        long waitStart = _metrics.WaitTimeEnabled ? _time.GetTimestamp() : 0;

        // Once this acquirer has waited in the queue it is entitled to scan and create even while others
        // wait behind it; a new acquirer is not (no barging).
        bool entitled = false;
        bool firstLook = candidate is null;
        try
        {
            while (true)
            {
                if (candidate is not null)
                {
                    Slot<T> stale = candidate;
                    candidate = null;
                    if (await ValidateOwnedAsync(stale, deadline, cancellationToken).ConfigureAwait(false))
                    {
                        return Lease(stale, waitStart, _clock.Now);
                    }

                    continue;
                }

                if (IsDisposed)
                {
                    ThrowHelper.ThrowDisposed(Name);
                }

                cancellationToken.ThrowIfCancellationRequested();

                // PERF: the first round uses the tick AcquireAsync just read (one clock read per acquire, not two).
                long now = firstLook ? start : _clock.Now;
                firstLook = false;
                if (entitled || _waiters.Count == 0)
                {
                    if (TryTakeIdle(now, out Slot<T>? idle, out bool needsValidation))
                    {
                        if (needsValidation)
                        {
                            candidate = idle;
                            continue;
                        }

                        return Lease(idle, waitStart, now);
                    }

                    switch (TryReserve(now, out Slot<T>? reserved))
                    {
                        case ReserveResult.Reserved:
                            return await CreateLeaseAsync(reserved!, waitStart, deadline, cancellationToken).ConfigureAwait(false);
                        case ReserveResult.BackedOff when Volatile.Read(ref _live) == 0:
                            throw CreateFailFastException(now);
                        case ReserveResult.BackedOff:
                            _waiters.WakeHeadAt(_backoff.BlockedUntil);
                            break;
                        default:
                            break;
                    }
                }

                if (now >= deadline)
                {
                    throw Exhausted(PoolExhaustedReason.Timeout, start, now);
                }

                // Queue up and wait for a hand-off, a re-check signal, the deadline, cancellation or disposal.
                // (Inlined here rather than in a helper method: one pooled state machine per wait instead of two.)
                TestHookBeforeEnqueue?.Invoke();
                switch (_waiters.RentAndEnqueue(deadline, atHead: entitled, _options.MaxWaiters, out Waiter<T>? waiter))
                {
                    case EnqueueResult.Full:
                        throw Exhausted(PoolExhaustedReason.WaitQueueFull, start, _clock.Now);
                    case EnqueueResult.Closed:
                        ThrowHelper.ThrowDisposed(Name);
                        break;
                    default:
                        break;
                }

                WaitResult<T> result;
                try
                {
                    // Lost-wake-up guard: a slot may have become idle, or capacity free, between our last look and
                    // the enqueue, with the returner seeing nobody waiting. Look again now that we are visible.
                    RecheckAfterEnqueue(waiter!, now);
                    if (cancellationToken.CanBeCanceled)
                    {
                        waiter!.Registration = cancellationToken.UnsafeRegister(s_onWaiterCanceled, waiter);
                    }

                    result = await waiter!.AsValueTask().ConfigureAwait(false);
                }
                finally
                {
                    // Dispose waits for a running cancellation callback, so nobody touches the waiter after the reset.
                    if (cancellationToken.CanBeCanceled)
                    {
                        await waiter!.Registration.DisposeAsync().ConfigureAwait(false);
                    }

                    _waiters.RemoveAndRecycle(waiter!);
                }

                switch (result.Outcome)
                {
                    case WaitOutcome.HandedOff:
                        return Lease(result.Slot!, waitStart, _clock.Now);
                    case WaitOutcome.FoundStale:
                        candidate = result.Slot;
                        break;
                    case WaitOutcome.Reserved:
                        return await CreateLeaseAsync(result.Slot!, waitStart, deadline, cancellationToken).ConfigureAwait(false);
                    case WaitOutcome.Recheck:
                        break;
                    case WaitOutcome.TimedOut:
                        throw Exhausted(PoolExhaustedReason.Timeout, start, _clock.Now);
                    case WaitOutcome.Canceled:
                        throw new OperationCanceledException(cancellationToken);
                    case WaitOutcome.Disposed:
                        ThrowHelper.ThrowDisposed(Name);
                        break;
                    default:
                        ThrowHelper.ThrowBug($"unknown wait outcome {result.Outcome}");
                        break;
                }

                entitled = true;
            }
        }
        catch (Exception) when (entitled)
        {
            // This acquirer was woken because capacity may have freed up, and it leaves without using it
            // (fail-fast during back-off, a creation error, a timeout, cancellation): pass the wake-up on, or
            // the waiters behind it would sleep until their deadline although the pool could serve them.
            WakeOneForRecheck();
            throw;
        }
    }

    private static readonly Action<object?, CancellationToken> s_onWaiterCanceled = static (state, _) =>
    {
        var waiter = (Waiter<T>)state!;
        if (waiter.TryCompleteCurrent(new WaitResult<T>(null, WaitOutcome.Canceled)))
        {
            waiter.Queue.Remove(waiter);
        }
    };

    /// <param name="waiter">The waiter just enqueued.</param>
    /// <param name="now">The tick of this round's first look; a few microseconds old at most, which the expiry, validation-window and back-off checks tolerate (PERF: saves a clock read per wait).</param>
    private void RecheckAfterEnqueue(Waiter<T> waiter, long now)
    {
        if (IsDisposed)
        {
            if (waiter.TryCompleteByOwner(new WaitResult<T>(null, WaitOutcome.Disposed)))
            {
                _waiters.Remove(waiter);
            }

            return;
        }

        if (TryTakeIdle(now, out Slot<T>? idle, out bool needsValidation))
        {
            if (waiter.TryCompleteByOwner(new WaitResult<T>(idle, needsValidation ? WaitOutcome.FoundStale : WaitOutcome.HandedOff)))
            {
                _waiters.Remove(waiter);
            }
            else
            {
                // Somebody completed us meanwhile (possibly with a slot of theirs): give this one back untouched.
                ReleaseIdle(idle, needsValidation ? WaitOutcome.FoundStale : WaitOutcome.HandedOff);
            }

            return;
        }

        if (TryReserve(now, out Slot<T>? reserved) == ReserveResult.Reserved)
        {
            if (waiter.TryCompleteByOwner(new WaitResult<T>(reserved, WaitOutcome.Reserved)))
            {
                _waiters.Remove(waiter);
            }
            else
            {
                AbandonReservation(reserved!);
            }
        }
    }

    /// <summary>Runs the policy's validation on an owned slot; destroys the resource when it fails.</summary>
    /// <returns><see langword="true"/> if the resource may be handed out.</returns>
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

        using var timeout = new CancellationTokenSource(limit, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        Exception? error = null;
        bool valid;
        try
        {
            valid = await _policy.ValidateAsync(slot.Resource!, linked.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            valid = false;
            error = ex;
        }

        if (!valid)
        {
            _logger.ValidationFailed(Name, slot.Index, error);
            _ = DestroyOwned(slot, DestroyReason.ValidationFailed);
            cancellationToken.ThrowIfCancellationRequested();
        }

        return valid;
    }

    private PoolExhaustedException Exhausted(PoolExhaustedReason reason, long start, long now)
    {
        PoolStatistics stats = GetStatistics();
        if (reason == PoolExhaustedReason.Timeout)
        {
            Interlocked.Increment(ref _totalTimeouts);
            _metrics.RecordTimeout();
            stats = stats with { TotalTimeouts = stats.TotalTimeouts + 1 };
        }

        _logger.PoolExhausted(Name, reason, stats.Leased, stats.Idle, stats.Creating, stats.Waiting, stats.MaxSize);
        return new PoolExhaustedException(
            Name,
            reason,
            Elapsed(start, now),
            stats,
            GetLongestHeldLeases(now, 5),
            _backoff.LastError,
            _options.AcquireTimeout,
            _options.MaxWaiters);
    }

    private List<HeldLease> GetLongestHeldLeases(long now, int count)
    {
        var held = new List<HeldLease>();
        int allocated = Math.Min(Volatile.Read(ref _allocated), _slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } slot && slot.CurrentState == SlotState.Leased)
            {
                long leasedAt = slot.LeasedAt;
                held.Add(new HeldLease(leasedAt == 0 ? TimeSpan.Zero : Elapsed(leasedAt, now), slot.AcquiredAt));
            }
        }

        held.Sort(static (a, b) => b.HeldFor.CompareTo(a.HeldFor));
        if (held.Count > count)
        {
            held.RemoveRange(count, held.Count - count);
        }

        return held;
    }
}
