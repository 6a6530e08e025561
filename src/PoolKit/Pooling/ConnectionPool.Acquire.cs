using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
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

        // PERF: the cached tick (a field, not a clock read); the slow path reads the exact clock for its deadline.
        long now = _clock.Cached;

        // Fast path: nobody waits (no barging) and an idle, fresh resource is there.
        if (_waiters.Count == 0 && TryTakeIdle(now, out Slot<T>? slot, out bool needsValidation))
        {
            if (!needsValidation)
            {
                return new ValueTask<PoolLease<T>>(Lease(slot, 0, now));
            }

            return AcquireSlowAsync(slot, cancellationToken);
        }

        return AcquireSlowAsync(null, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>A resource idle for longer than <see cref="ConnectionPoolOptions.ValidationBypassWindow"/> is handed out only if the policy validates it synchronously; otherwise its validation finishes in the background and this call returns <see langword="false"/>. Nothing is handed out while acquirers wait.</remarks>
    public bool TryAcquire(out PoolLease<T> lease)
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        long now = _clock.Cached;
        if (_waiters.Count == 0 && TryTakeIdle(now, out Slot<T>? slot, out bool needsValidation))
        {
            if (!needsValidation)
            {
                lease = Lease(slot, 0, now);
                return true;
            }

            return TryAcquireValidating(slot, now, out lease);
        }

        lease = default;
        return false;
    }

    /// <summary><see cref="TryAcquire"/> once it won a resource idle beyond the validation window.</summary>
    private bool TryAcquireValidating(Slot<T> stale, long now, out PoolLease<T> lease)
    {
        Slot<T>? slot = stale;
        bool needsValidation = true;
        do
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

            _logger.ValidationFailed(Name, slot.Index, null);
            _ = DestroyOwned(slot, DestroyReason.ValidationFailed);
        }
        while (_waiters.Count == 0 && TryTakeIdle(now, out slot, out needsValidation));

        lease = default;
        return false;
    }

    /// <summary>Turns an owned slot into a lease.</summary>
    /// <param name="slot">The owned slot.</param>
    /// <param name="waitStartPrecise">The precise timestamp the acquire began at, for the wait-time metric; 0 for "did not wait".</param>
    /// <param name="now">The pool clock's current tick.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PoolLease<T> Lease(Slot<T> slot, long waitStartPrecise, long now)
    {
        slot.LeasedAt = now;
        slot.MarkedForDestruction = 0;

        // Owner-only write, published to the statistics reader by the CAS that ends this ownership (PERF: no
        // shared counter on the uncontended path).
        slot.Leases++;

        // PERF: the precise clock is read only while a timing histogram has a listener.
        if ((_leakTicks != long.MaxValue) | _metrics.UseTimeEnabled | _metrics.WaitTimeEnabled)
        {
            LeaseObserved(slot, waitStartPrecise);
        }
        else
        {
            slot.UseStartPrecise = 0;
        }

        return new PoolLease<T>(slot, Slot<T>.VersionOf(slot.Word));
    }

    /// <summary>The part of <see cref="Lease"/> for leak detection and the timing histograms.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LeaseObserved(Slot<T> slot, long waitStartPrecise)
    {
        if (_leakTicks != long.MaxValue)
        {
            slot.AcquireStackTrace = CallerStackTrace();
        }

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
    }

    /// <summary>
    /// The stack from the first frame that is neither the pool's nor the runtime's (the async machinery between an
    /// acquire's frames), whether or not the JIT inlined the pool's helpers.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage(
        "Trimming",
        "IL2026",
        Justification = "Only decides how many frames to leave out of a diagnostic trace: when metadata was trimmed GetMethod returns null and no more frames are left out.")]
    private static string CallerStackTrace()
    {
        StackFrame[] frames = new StackTrace(1, fNeedFileInfo: false).GetFrames();
        int skip = 0;
        while (skip < frames.Length
            && frames[skip].GetMethod()?.DeclaringType?.Assembly is { } assembly
            && (assembly == typeof(ConnectionPool<T>).Assembly || assembly == typeof(object).Assembly))
        {
            skip++;
        }

        return new StackTrace(1 + skip, fNeedFileInfo: true).ToString();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PoolLease<T>> AcquireSlowAsync(Slot<T>? candidate, CancellationToken cancellationToken)
    {
        long start = _clock.Now;
        long deadline = _acquireTimeoutTicks == long.MaxValue ? long.MaxValue : start + _acquireTimeoutTicks;
        long waitStart = _metrics.WaitTimeEnabled ? _time.GetTimestamp() : 0;

        // A waiter that was handed a stale resource which then failed validation was the head of the queue: it may
        // look at the slots although others wait, and re-enters at the head (it keeps its turn). A newcomer may not.
        bool atHead = false;
        bool firstLook = candidate is null;
        bool waited = false;
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

                    atHead = waited;
                    continue;
                }

                if (IsDisposed)
                {
                    ThrowHelper.ThrowDisposed(Name);
                }

                cancellationToken.ThrowIfCancellationRequested();

                // PERF: the first round uses the tick this method just read.
                long now = firstLook ? start : _clock.Now;
                firstLook = false;
                if (atHead || _waiters.Count == 0)
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

                    // Nobody waits and nothing is on its way (no reset, no creation): create, and keep the resource
                    // if it comes at once. A resource still resetting is about to be idle: never create because of it.
                    if (!atHead
                        && Volatile.Read(ref _returning) == 0
                        && TryReserve(now, wanted: 1, out Slot<T>? reserved) == ReserveResult.Reserved)
                    {
                        ValueTask creation = CreateIntoSlotAsync(reserved!);
                        if (creation.IsCompleted)
                        {
                            return LeaseCreatedSynchronously(reserved!, creation, waitStart);
                        }

                        // It went asynchronous: it is the pool's now and is released to the head of the queue when it
                        // completes; this acquirer queues and takes whichever resource reaches it first.
                        _ = FinishCreationAsync(reserved!, creation.AsTask());
                    }
                }

                if (now >= deadline)
                {
                    throw Exhausted(PoolExhaustedReason.Timeout, start, now);
                }

                // Queue up and wait for a hand-off, a creation failure, the deadline, cancellation or disposal.
                // (Inlined here rather than in a helper method: one pooled state machine per wait instead of two.)
                TestHookBeforeEnqueue?.Invoke();
                switch (_waiters.RentAndEnqueue(deadline, atHead, _options.MaxWaiters, out Waiter<T>? waiter))
                {
                    case EnqueueResult.Full:
                        Interlocked.Increment(ref _totalRejected);
                        throw Exhausted(PoolExhaustedReason.WaitQueueFull, start, _clock.Now);
                    case EnqueueResult.Closed:
                        ThrowHelper.ThrowDisposed(Name);
                        break;
                    default:
                        break;
                }

                // Counted by the queue (TotalAcquiresWaited): an acquire enqueues at the tail once at most.
                waited = true;

                WaitResult<T> result;
                try
                {
                    // Lost-wake-up guard (step 2 of the proof in ConnectionPool.HandOff.cs), then the demand this
                    // waiter adds may justify a creation.
                    if (!RescanAfterEnqueue(waiter!, now))
                    {
                        StartCreationsForWaiters();
                    }

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
                        // PERF: the cached tick; the lease start is bookkeeping, not a deadline.
                        return Lease(result.Slot!, waitStart, _clock.Cached);
                    case WaitOutcome.FoundStale:
                        candidate = result.Slot;
                        break;
                    case WaitOutcome.CreationFailed:
                        ExceptionDispatchInfo.Throw(result.Error!);
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
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _totalCanceled);
            throw;
        }
    }

    /// <summary>Finishes an acquirer's own creation that completed synchronously: a lease, or the creation's error.</summary>
    private PoolLease<T> LeaseCreatedSynchronously(Slot<T> slot, ValueTask creation, long waitStart)
    {
        try
        {
            creation.GetAwaiter().GetResult();
        }
        catch (Exception ex)
        {
            // The caller gets the real error; waiters that queued meanwhile are not failed by it (they wait for the
            // next attempt, after the back-off).
            CreationFailed(slot, ex, reportToWaiters: false);
            throw;
        }

        // Ordering: the permit is given back only now that the resource is ours; then anybody who held back because
        // of it looks again.
        Interlocked.Decrement(ref _creating);
        if (_waiters.Count > 0)
        {
            StartCreationsForWaiters();
        }

        if (IsDisposed)
        {
            _ = DestroyOwned(slot, DestroyReason.PoolDisposed);
            ThrowHelper.ThrowDisposed(Name);
        }

        return Lease(slot, waitStart, slot.IdleSince);
    }

    private static readonly Action<object?, CancellationToken> s_onWaiterCanceled = static (state, _) =>
    {
        var waiter = (Waiter<T>)state!;
        if (waiter.TryCompleteCurrent(new WaitResult<T>(null, WaitOutcome.Canceled)))
        {
            waiter.Queue.Remove(waiter);
        }
    };

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
                held.Add(new HeldLease(leasedAt == 0 || leasedAt >= now ? TimeSpan.Zero : Elapsed(leasedAt, now), slot.AcquireStackTrace));
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
