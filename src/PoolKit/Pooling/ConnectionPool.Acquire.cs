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

        long now = _time.GetTimestamp();

        // Fast path: nobody waits (no barging) and an idle, fresh resource is there.
        if (_waiters.Count == 0 && TryTakeIdle(now, freshOnly: false, out Slot<T>? slot, out bool needsValidation))
        {
            if (!needsValidation)
            {
                return new ValueTask<PoolLease<T>>(Lease(slot, now, now));
            }

            return AcquireSlowAsync(slot, now, cancellationToken);
        }

        return AcquireSlowAsync(null, now, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Only resources idle for less than <see cref="ConnectionPoolOptions.ValidationBypassWindow"/> are handed out, since validation would need to wait; nothing is handed out while acquirers wait.</remarks>
    public bool TryAcquire(out PoolLease<T> lease)
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        long now = _time.GetTimestamp();
        if (_waiters.Count == 0 && TryTakeIdle(now, freshOnly: true, out Slot<T>? slot, out _))
        {
            lease = Lease(slot, now, now);
            return true;
        }

        lease = default;
        return false;
    }

    /// <summary>
    /// Wins the first idle slot by CAS, destroying on the way any resource that is cleared, expired or unusable.
    /// </summary>
    /// <param name="now">The current timestamp.</param>
    /// <param name="freshOnly">Leave alone (idle) the resources that would need validation.</param>
    /// <param name="slot">The slot won, now <c>Leased</c> and owned by the caller.</param>
    /// <param name="needsValidation">Whether the resource has been idle beyond the bypass window.</param>
    private bool TryTakeIdle(long now, bool freshOnly, [NotNullWhen(true)] out Slot<T>? slot, out bool needsValidation)
    {
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            Slot<T>? candidate = Volatile.Read(ref slots[i]);
            if (candidate is null || candidate.State != (int)SlotState.Idle || !candidate.TryTransition(SlotState.Idle, SlotState.Leased))
            {
                continue;
            }

            // We own the slot now.
            if (CheckOnHandOut(candidate, now) is { } reason)
            {
                _ = DestroyOwned(candidate, reason);
                continue;
            }

            bool stale = now - candidate.IdleSince >= _bypassTicks;
            if (stale && freshOnly)
            {
                PublishIdle(candidate, WaitOutcome.FoundStale);
                continue;
            }

            slot = candidate;
            needsValidation = stale;
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

        try
        {
            return _policy.IsUsable(slot.Resource!) ? null : DestroyReason.Unusable;
        }
        catch (Exception)
        {
            return DestroyReason.Unusable;
        }
    }

    /// <summary>Turns an owned slot into a lease. <paramref name="start"/> is when the acquire began, for the wait-time metric.</summary>
    private PoolLease<T> Lease(Slot<T> slot, long start, long now)
    {
        slot.LeasedAt = now;
        slot.Broken = false;
        if (_leakTicks != long.MaxValue)
        {
            slot.AcquiredAt = new StackTrace(2, fNeedFileInfo: true).ToString();
        }

        _metrics.RecordWaitTime(start, now);
        return new PoolLease<T>(this, slot, slot.LeaseVersion);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PoolLease<T>> AcquireSlowAsync(Slot<T>? candidate, long start, CancellationToken cancellationToken)
    {
        long deadline = _acquireTimeoutTicks == long.MaxValue ? long.MaxValue : start + _acquireTimeoutTicks;

        // Once this acquirer has waited in the queue it is entitled to scan and create even while others
        // wait behind it; a new acquirer is not (no barging).
        bool entitled = false;
        while (true)
        {
            if (candidate is not null)
            {
                Slot<T> stale = candidate;
                candidate = null;
                if (await ValidateOwnedAsync(stale, deadline, cancellationToken).ConfigureAwait(false))
                {
                    return Lease(stale, start, _time.GetTimestamp());
                }

                continue;
            }

            if (IsDisposed)
            {
                ThrowHelper.ThrowDisposed(Name);
            }

            cancellationToken.ThrowIfCancellationRequested();
            long now = _time.GetTimestamp();
            if (entitled || _waiters.Count == 0)
            {
                if (TryTakeIdle(now, freshOnly: false, out Slot<T>? idle, out bool needsValidation))
                {
                    if (needsValidation)
                    {
                        candidate = idle;
                        continue;
                    }

                    return Lease(idle, start, now);
                }

                switch (TryReserve(now, out Slot<T>? reserved))
                {
                    case ReserveResult.Reserved:
                        return await CreateLeaseAsync(reserved!, start, deadline, cancellationToken).ConfigureAwait(false);
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

            WaitResult<T> result = await WaitAsync(deadline, atHead: entitled, start, cancellationToken).ConfigureAwait(false);
            switch (result.Outcome)
            {
                case WaitOutcome.HandedOff:
                    return Lease(result.Slot!, start, _time.GetTimestamp());
                case WaitOutcome.FoundStale:
                    candidate = result.Slot;
                    break;
                case WaitOutcome.Reserved:
                    return await CreateLeaseAsync(result.Slot!, start, deadline, cancellationToken).ConfigureAwait(false);
                case WaitOutcome.Recheck:
                    break;
                case WaitOutcome.TimedOut:
                    throw Exhausted(PoolExhaustedReason.Timeout, start, _time.GetTimestamp());
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

    /// <summary>
    /// Queues the acquirer and waits for a hand-off, a re-check signal, its deadline, cancellation or disposal.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<WaitResult<T>> WaitAsync(long deadline, bool atHead, long start, CancellationToken cancellationToken)
    {
        Waiter<T> waiter = _waiters.Rent();
        waiter.Deadline = deadline;
        TestHookBeforeEnqueue?.Invoke();
        switch (_waiters.Enqueue(waiter, atHead, _options.MaxWaiters))
        {
            case EnqueueResult.Full:
                waiter.Reset();
                _waiters.ReturnToFreeList(waiter);
                throw Exhausted(PoolExhaustedReason.WaitQueueFull, start, _time.GetTimestamp());
            case EnqueueResult.Closed:
                waiter.Reset();
                _waiters.ReturnToFreeList(waiter);
                ThrowHelper.ThrowDisposed(Name);
                break;
            default:
                break;
        }

        try
        {
            // Lost-wake-up guard: a slot may have become idle, or capacity free, between our last look and the
            // enqueue, with the returner seeing nobody waiting. Look again now that we are visible.
            RecheckAfterEnqueue(waiter);

            if (cancellationToken.CanBeCanceled)
            {
                waiter.Registration = cancellationToken.UnsafeRegister(
                    static (state, _) =>
                    {
                        var w = (Waiter<T>)state!;
                        if (w.TryCompleteCurrent(new WaitResult<T>(null, WaitOutcome.Canceled)))
                        {
                            w.Queue.Remove(w);
                        }
                    },
                    waiter);
            }

            return await waiter.AsValueTask().ConfigureAwait(false);
        }
        finally
        {
            // Dispose waits for a running cancellation callback, so nobody touches the waiter after Reset.
            await waiter.Registration.DisposeAsync().ConfigureAwait(false);
            _waiters.Remove(waiter);
            waiter.Reset();
            _waiters.ReturnToFreeList(waiter);
        }
    }

    private void RecheckAfterEnqueue(Waiter<T> waiter)
    {
        long now = _time.GetTimestamp();
        if (IsDisposed)
        {
            if (waiter.TryCompleteCurrent(new WaitResult<T>(null, WaitOutcome.Disposed)))
            {
                _waiters.Remove(waiter);
            }

            return;
        }

        if (TryTakeIdle(now, freshOnly: false, out Slot<T>? idle, out bool needsValidation))
        {
            if (waiter.TryCompleteCurrent(new WaitResult<T>(idle, needsValidation ? WaitOutcome.FoundStale : WaitOutcome.HandedOff)))
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
            if (waiter.TryCompleteCurrent(new WaitResult<T>(reserved, WaitOutcome.Reserved)))
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
            TimeSpan remaining = Elapsed(_time.GetTimestamp(), deadline);
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
