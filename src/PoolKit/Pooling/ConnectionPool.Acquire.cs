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
    public ValueTask<PoolLease<T>> AcquireAsync(CancellationToken cancellationToken = default) => Acquire(_acquireTimeoutTicks, cancellationToken);

    /// <inheritdoc />
    public ValueTask<PoolLease<T>> AcquireAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (timeout != Timeout.InfiniteTimeSpan && timeout <= TimeSpan.Zero)
        {
            ThrowHelper.ThrowTimeoutOutOfRange(nameof(timeout), timeout);
        }

        return Acquire(ToTicks(timeout), cancellationToken);
    }

    /// <summary>Both <see cref="AcquireAsync(CancellationToken)"/> overloads: the fast path, then the waiting one.</summary>
    /// <param name="timeoutTicks">How long the acquire may wait, in pool-clock ticks; <see cref="long.MaxValue"/> for ever.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ValueTask<PoolLease<T>> Acquire(long timeoutTicks, CancellationToken cancellationToken)
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _totalCanceled);
            return ValueTask.FromCanceled<PoolLease<T>>(cancellationToken);
        }

        // PERF: the cached tick (a field, not a clock read); the slow path reads the exact clock for its deadline.
        long now = _clock.Cached;

        // Fast path: the first look of AcquireOrWait (nobody waits, an idle resource passes the gate), without the
        // bookkeeping for a creation, which is for when nothing is idle.
        if (TryTakeIdleIfNobodyWaits(now, out Slot<T>? slot, out bool needsValidation))
        {
            if (!needsValidation)
            {
                return new ValueTask<PoolLease<T>>(Lease(slot, 0, now));
            }

            return AcquireValidatingAsync(slot, _clock.Now, timeoutTicks, WaitStart(), cancellationToken);
        }

        // The exact clock from here on: the deadline is measured from it.
        long start = _clock.Now;
        return AcquireOrWait(start, start, timeoutTicks, WaitStart(), cancellationToken);
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
        if (TryTakeIdleIfNobodyWaits(now, out Slot<T>? slot, out bool needsValidation))
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
        while (true)
        {
            // A stale resource is handed out only if the policy can validate it without waiting; one that goes
            // asynchronous owns the slot and makes it available when done.
            bool? valid = needsValidation ? ValidateStaleNow(slot, now) : true;
            if (valid == true)
            {
                lease = Lease(slot, 0, now);
                return true;
            }

            if (valid is null || !TryTakeIdleIfNobodyWaits(now, out slot, out needsValidation))
            {
                lease = default;
                return false;
            }
        }
    }

    /// <summary>Turns an owned slot into a lease.</summary>
    /// <param name="slot">The owned slot.</param>
    /// <param name="waitStartPrecise">The precise timestamp the acquire began at, for the wait-time metric; 0 for "did not wait".</param>
    /// <param name="now">The pool clock's current tick.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PoolLease<T> Lease(Slot<T> slot, long waitStartPrecise, long now)
    {
        Debug.Assert(slot.CurrentState == SlotState.Leased && slot.Resource is not null, "a slot is leased out only while owned (Leased) and holding a resource");
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

    /// <summary>The precise timestamp a wait starts at, for the wait-time histogram; 0 while nobody listens.</summary>
    private long WaitStart() => _metrics.WaitTimeEnabled ? _time.GetTimestamp() : 0;

    /// <summary>The deadline of an acquire that started at <paramref name="start"/> and may wait <paramref name="timeoutTicks"/> (pool clock).</summary>
    private static long DeadlineOf(long start, long timeoutTicks) => timeoutTicks == long.MaxValue ? long.MaxValue : start + timeoutTicks;

    /// <summary>
    /// The acquire once the fast path found nothing fresh: one more look at the slots (and a creation when nobody
    /// waits and nothing is on its way), then the queue. Never throws: failures come in the returned task.
    /// </summary>
    /// <remarks>
    /// PERF: not an async method. A waiting acquire returns the <see cref="Waiter{T}"/> itself as the task's source,
    /// completed by the hand-off with the slot and turned into a lease when the caller takes the result
    /// (<see cref="EndWait"/>), so no state machine sits between the hand-off and the caller's continuation. That is
    /// possible because a waiter is only ever handed a resource it can use at once: one idle beyond the validation
    /// window is validated by the pool before the hand-off (see <see cref="TryHandOff(Slot{T}, long)"/>).
    /// </remarks>
    /// <param name="start">When the acquire started (pool clock, exact): its deadline is measured from it.</param>
    /// <param name="now">The current tick (exact; <paramref name="start"/> itself on the first call, PERF: one clock read per acquire).</param>
    /// <param name="timeoutTicks">How long the acquire may wait (pool clock); <see cref="long.MaxValue"/> for ever.</param>
    /// <param name="waitStart">The precise start for the wait-time histogram, or 0.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    private ValueTask<PoolLease<T>> AcquireOrWait(long start, long now, long timeoutTicks, long waitStart, CancellationToken cancellationToken)
    {
        Waiter<T>? waiter;
        Slot<T>? creating = null;
        Task? creation = null;
        try
        {
            if (IsDisposed)
            {
                ThrowHelper.ThrowDisposed(Name);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _totalCanceled);
                return ValueTask.FromCanceled<PoolLease<T>>(cancellationToken);
            }

            long deadline = DeadlineOf(start, timeoutTicks);
            if (_waiters.Count == 0 && !IsPaused)
            {
                // Ordering: "is anything on its way" is read before the scan. A reset or creation releases its slot before
                // it stops counting as on its way, so if it ended after the scan missed its slot, it is still counted
                // here and this acquirer queues for it instead of creating a surplus one (guard:
                // ResetEndsBetweenTheAcquirersScanAndItsDecision_…).
                int ended = Volatile.Read(ref _endedOnItsWay);
                bool onItsWay = Volatile.Read(ref _returning) != 0 || Volatile.Read(ref _creating) != 0;
                if (TryTakeIdle(now, out Slot<T>? idle, out bool needsValidation))
                {
                    return needsValidation
                        ? AcquireValidatingAsync(idle, start, timeoutTicks, waitStart, cancellationToken)
                        : new ValueTask<PoolLease<T>>(Lease(idle, waitStart, now));
                }

                // Nobody waits and nothing is on its way (no reset, no creation): create, and keep the resource if it
                // comes at once. A resource still resetting is about to be idle: never create because of it. Read again
                // after the scan: a waiter's rescan may have won an idle slot the scan missed and put it back since (it
                // counts in _returning before it wins the slot; one that ended since moved `ended`: issue 19, defect 9).
#if DEBUG
                TestHookBeforeOwnCreation?.Invoke();
#endif
                if (!onItsWay
                    && Volatile.Read(ref _returning) == 0
                    && CreationsThatHelp(wanted: 1, waiting: 1) > 0
                    && TryReserve(now, wanted: 1, creating: 0, ended, out Slot<T>? reserved, forAcquirers: true) == ReserveResult.Reserved)
                {
                    ValueTask started = CreateIntoSlotAsync(reserved!);
                    if (started.IsCompleted)
                    {
                        return new ValueTask<PoolLease<T>>(LeaseCreatedSynchronously(reserved!, started, waitStart));
                    }

                    // It went asynchronous: it is the pool's now and is released to the head of the queue when it
                    // completes; this acquirer queues and takes whichever resource (or creation error) reaches it first.
                    creating = reserved;
                    creation = started.AsTask();
                }
            }

            if (now >= deadline)
            {
                throw Exhausted(PoolExhaustedReason.Timeout, start, now, deadline);
            }

            // Fail fast: the last creation failed in a way retrying cannot fix (a wrong password), its back-off runs, and
            // nothing live (idle, leased, being created) could serve this acquirer: waiting would only end in the same
            // error later. The attempt after the back-off still runs (for whoever comes then), so the pool recovers.
            if (_backoff.LastErrorIsPermanent && _backoff.IsBlocked(now) && Volatile.Read(ref _live) == 0 && _backoff.LastError is { } permanent)
            {
                throw CreatePermanentFailureException(permanent);
            }

            // Shedding (ConnectionPool.Shedding.cs): fail at once if, by the pool's estimate, the wait would be too long.
            if (_queueTimeTargetTicks != long.MaxValue && ShedIfOverloaded(start, now, deadline) is { } shed)
            {
                throw shed;
            }

            // Queue up and wait for a hand-off, a creation failure, the deadline, cancellation or disposal.
#if DEBUG
            TestHookBeforeEnqueue?.Invoke();
#endif
            switch (_waiters.RentAndEnqueue(deadline, _options.MaxWaiters, out waiter))
            {
                case EnqueueResult.Full:
                    Interlocked.Increment(ref _totalRejected);
                    throw Exhausted(PoolExhaustedReason.WaitQueueFull, start, _clock.Now, deadline);
                case EnqueueResult.Closed:
                    ThrowHelper.ThrowDisposed(Name);
                    break;
                default:
                    break;
            }
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<PoolLease<T>>(ex);
        }
        finally
        {
            // Ordering: the creation this acquirer started is finished only once the acquirer is queued, so that its
            // outcome, however fast, finds it there: a resource is handed to the head of the queue, and a failure is
            // reported to it (a failure that beat the enqueue would find nobody to report to, and the acquirer would
            // wait for the back-off to end instead of getting the error of the attempt it caused).
            if (creation is not null)
            {
                _ = FinishCreationAsync(creating!, creation);
            }
        }

        // From here on the waiter is queued: whatever happens ends its wait, and the caller's await of the returned
        // task ends it for good (EndWait). Nothing below throws.
        waiter!.Begin(this, start, waitStart, cancellationToken);
#if DEBUG
        TestHookAfterEnqueue?.Invoke();
#endif

        // Lost-wake-up guard (step 2 of the proof in ConnectionPool.HandOff.cs), then the demand this waiter adds may
        // justify a creation. Served or not, the decision runs: a slot the rescan held in transit may have held
        // somebody else's decision back.
        _ = RescanAfterEnqueue(waiter, now);
        StartCreationsForWaiters();

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.UnsafeRegister(s_onWaiterCanceled, waiter);
        }

        return waiter.AsLeaseTask();
    }

    /// <summary>
    /// Ends a wait when its caller takes the result: disposes the cancellation registration, recycles the waiter and
    /// turns the outcome into a lease or the exception the caller gets.
    /// </summary>
    /// <param name="waiter">The completed waiter; recycled by this call.</param>
    /// <param name="result">Its outcome.</param>
    internal PoolLease<T> EndWait(Waiter<T> waiter, WaitResult<T> result)
    {
        long start = waiter.Start;
        long deadline = waiter.Deadline;
        long waitStart = waiter.WaitStartPrecise;
        CancellationToken cancellationToken = waiter.Token;

        // Dispose waits for a running cancellation callback, so nobody touches the waiter after it is recycled. The
        // callback never runs this (it completes the waiter through the thread pool), so this cannot wait on itself.
        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration.Dispose();
        }

        _waiters.RemoveAndRecycle(waiter);
        switch (result.Outcome)
        {
            case WaitOutcome.HandedOff:
                _queueEstimate.Served(start, _clock.Now);

                // PERF: the cached tick; the lease start is bookkeeping, not a deadline.
                return Lease(result.Slot!, waitStart, _clock.Cached);
            case WaitOutcome.CreationFailed:
                ExceptionDispatchInfo.Throw(result.Error!);
                break;
            case WaitOutcome.TimedOut:
                throw Exhausted(PoolExhaustedReason.Timeout, start, _clock.Now, deadline);
            case WaitOutcome.Canceled:
                Interlocked.Increment(ref _totalCanceled);
                throw new OperationCanceledException(cancellationToken);
            case WaitOutcome.Disposed:
                ThrowHelper.ThrowDisposed(Name);
                break;
            default:
                ThrowHelper.ThrowBug($"unknown wait outcome {result.Outcome}");
                break;
        }

        return default;
    }

    /// <summary>An acquire that won a resource idle beyond the validation window: validates it, then hands it out or looks again.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PoolLease<T>> AcquireValidatingAsync(Slot<T> stale, long start, long timeoutTicks, long waitStart, CancellationToken cancellationToken)
    {
        bool valid;
        try
        {
            valid = await ValidateOwnedAsync(stale, DeadlineOf(start, timeoutTicks), cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _totalCanceled);
            throw;
        }

        if (valid)
        {
            return Lease(stale, waitStart, _clock.Now);
        }

        // It was destroyed: look again (another stale resource validates in a nested call, at most MaxSize deep).
        return await AcquireOrWait(start, _clock.Now, timeoutTicks, waitStart, cancellationToken).ConfigureAwait(false);
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
        EndOnItsWay(ref _creating);

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

    /// <summary>The error of an acquire that timed out or could not queue.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="start">When the acquire started.</param>
    /// <param name="now">Now.</param>
    /// <param name="deadline">The acquire's deadline: the timeout the message names is the one this acquire ran with (the pool's, or its own).</param>
    private PoolExhaustedException Exhausted(PoolExhaustedReason reason, long start, long now, long deadline)
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
            deadline == long.MaxValue ? Timeout.InfiniteTimeSpan : (deadline - start == _acquireTimeoutTicks ? _options.AcquireTimeout : Elapsed(start, deadline)),
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
