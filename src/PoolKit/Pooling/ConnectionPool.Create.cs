using System.Globalization;
using Microsoft.Extensions.Logging;
using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Creating: when to create (demand against supply), reservation before creation, the concurrency limit, back-off, failures and expiry with jitter.</content>
public sealed partial class ConnectionPool<T>
{
    /// <summary>
    /// Starts creations, owned by the pool, while the waiters outnumber the resources on their way to them (see "No
    /// surplus creation" in the type remarks). The creation decision: reached only from <see cref="OfferFreedRoom"/>,
    /// <see cref="EndOnItsWay"/>, a newcomer's enqueue and the back-off's end; cheap when there is nothing to do.
    /// </summary>
    /// <remarks>During the creation back-off, an attempt for the waiters may start once the initial delay has passed since the last failure (<see cref="CreationBackoff.IsBlockedForAcquirers"/>).</remarks>
    private void StartCreationsForWaiters()
    {
        // Nobody creates for waiters while hand-outs are paused; Resume runs this.
        while (!IsDisposed && !IsPaused)
        {
            // PERF: nothing to decide (nobody waits, what is on its way covers the waiters, or the pool is full: the
            // contended steady state) costs no clock read. Whatever changes that ends in this routine again.
            if (_waiters.Count <= Volatile.Read(ref _returning) || Volatile.Read(ref _live) >= _options.MaxSize)
            {
                return;
            }

            // Idle resources go to waiters before anybody creates: a waiter may have enqueued next to a slot published
            // idle a moment ago, after the publisher's second look and before its own rescan. Either of those takes it
            // soon; a creation started now would be surplus (guard: ResetEndsWhileAnAcquirerEnqueues_…). A look that held
            // a slot in transit changed what there is: look again.
            long now = _clock.Now;
            int ended = Volatile.Read(ref _endedOnItsWay);
            if (HandIdleToWaiters(now))
            {
                continue;
            }

            // Ordering: `ended` before the look, then supply (returning, then creating), then demand. Whatever ended
            // after `ended` was read makes TryReserve answer Changed; whatever is counted here is on its way; anything
            // else was released before the look (seen idle) or before the demand read (its waiter already dequeued); a
            // transit that hid a slot from the look was counted before it won the slot, so it is counted here (guards:
            // SurplusCreationTests, the exploration's RoomyPool).
            int returning = Volatile.Read(ref _returning);
            int creating = Volatile.Read(ref _creating);
            int wanted = _waiters.Count - returning;
            if (wanted <= 0)
            {
                return;
            }

            // Only creations that serve a waiter sooner than returns would (ConnectionPool.CreationBenefit.cs).
            if ((wanted = CreationsThatHelp(wanted, _waiters.Count)) <= 0)
            {
                return;
            }

            switch (TryReserve(now, wanted, creating, ended, out Slot<T>? slot, forAcquirers: true))
            {
                case ReserveResult.Reserved:
                    ValueTask creation = CreateIntoSlotAsync(slot!);
                    if (creation.IsCompleted)
                    {
                        // PERF and stack depth: a synchronous creation is finished here and the loop goes on, instead
                        // of the finish starting creations recursively.
                        FinishCreation(slot!, creation, lookAgain: false);
                    }
                    else
                    {
                        _ = FinishCreationAsync(slot!, creation.AsTask());
                    }

                    break;
                case ReserveResult.Changed:
                    continue;
                case ReserveResult.BackedOff:
                    // Nobody creates (or fails with the old error) until the waiters may try again; then this runs again.
                    _waiters.WakeUpAt(_backoff.AcquirersMayTryAt);
                    return;
                case ReserveResult.Full:
                    // Somebody may have held back because of the creation permit TryReserve took and gave back; a
                    // slot freed before that was given back is seen here, one freed after will run this again.
                    if (Volatile.Read(ref _live) < _options.MaxSize)
                    {
                        continue;
                    }

                    return;
                default:
                    // Enough creations in flight, or the limit: each one that ends runs this again.
                    return;
            }
        }
    }

    /// <summary>
    /// Reserves capacity and an <c>Empty</c> (or never-used) slot for a creation, if fewer than
    /// <paramref name="wanted"/> creations are in flight, within the creation limit and outside the back-off.
    /// </summary>
    /// <param name="now">The current tick.</param>
    /// <param name="wanted">How many creations in flight the caller's demand justifies.</param>
    /// <param name="creating">The creations in flight the caller read before it read its demand: the permit is taken by a CAS from exactly this count, so a creation that ended after the demand was read (its waiter served, the demand stale) makes this return <see cref="ReserveResult.Changed"/> instead of a surplus creation.</param>
    /// <param name="ended"><see cref="_endedOnItsWay"/> as the caller read it before it looked at the slots and read <paramref name="creating"/>: if it moved, something on its way ended (a creation, a reset, a transit: its resource released where the caller may not have seen it, or a count that went down and up again) after the caller began, and this returns <see cref="ReserveResult.Changed"/>.</param>
    /// <param name="slot">The reserved slot, in state <c>Creating</c>, counted in <see cref="_live"/> and <see cref="_creating"/>.</param>
    /// <param name="forAcquirers">For acquirers (new or waiting): the back-off lets them try once the initial delay has passed since the last failure; <see langword="false"/> for the refill nobody waits for, which waits out the whole back-off.</param>
    private ReserveResult TryReserve(long now, int wanted, int creating, int ended, out Slot<T>? slot, bool forAcquirers = false)
    {
        slot = null;
        if (forAcquirers ? _backoff.IsBlockedForAcquirers(now) : _backoff.IsBlocked(now))
        {
            return ReserveResult.BackedOff;
        }

        // A full pool has no empty slot: skip the interlocked traffic on the creation counter.
        if (Volatile.Read(ref _live) >= _options.MaxSize)
        {
            return ReserveResult.Full;
        }

        // While creations keep failing, one attempt at a time: the server is probed, not hammered.
        int limit = _backoff.ConsecutiveFailures > 0 ? 1 : _options.MaxConcurrentCreations;
        if (creating >= wanted)
        {
            return ReserveResult.NotNeeded;
        }

        if (creating >= limit)
        {
            return ReserveResult.CreationLimit;
        }

        if (Interlocked.CompareExchange(ref _creating, creating + 1, creating) != creating)
        {
            return ReserveResult.Changed;
        }

        // Something on its way ended since the caller began (its resource released where the caller may not have seen
        // it, its waiter served), or the count went down and up again (ABA). The permit just taken is given back
        // (counted as ended, so a reserver that saw it taken notices) and the caller reads supply and demand again.
        if (Volatile.Read(ref _endedOnItsWay) != ended)
        {
            EndOnItsWay(ref _creating, lookAgain: false);
            return ReserveResult.Changed;
        }

#if DEBUG
        TestHookAfterCreationPermit?.Invoke();
#endif

        // Capacity before the slot: live is raised before a slot leaves Empty, so non-empty slots <= live <= MaxSize.
        int live = Volatile.Read(ref _live);
        while (true)
        {
            if (live >= _options.MaxSize)
            {
#if DEBUG
                TestHookBeforePermitGivenBack?.Invoke();
#endif
                EndOnItsWay(ref _creating, lookAgain: false);
                return ReserveResult.Full;
            }

            int seen = Interlocked.CompareExchange(ref _live, live + 1, live);
            if (seen == live)
            {
                Ledger(live: 1);
                break;
            }

            live = seen;
        }

        // Counted capacity guarantees an Empty or never-allocated slot; another reserver may win the one we see, so
        // scan until we win one (each winner is counted too, so this ends).
        while ((slot = TryReserveSlot()) is null)
        {
            Thread.Yield();
        }

        slot.Generation = Volatile.Read(ref _generation);
        AssertCountersInRange();
        return ReserveResult.Reserved;
    }

    /// <summary>
    /// Ends something on its way to the waiters, counted in <paramref name="counter"/> (<see cref="_creating"/>: a
    /// creation permit; <see cref="_returning"/>: a reset, a background validation, a transit), after its resource was
    /// released, put back or its destruction begun; then, unless the caller looks again itself, runs the creation
    /// decision: whoever held back because of it may have to create now (issue 19, defect 12: a reset whose resource was
    /// destroyed after its release left its waiter stranded when its end did not look again).
    /// </summary>
    /// <param name="counter">The counter it was counted in.</param>
    /// <param name="lookAgain"><see langword="false"/> only where the caller makes the decision right after (the decision's own loop, its look, a reserver that gives back an unused permit, an acquirer's rescan).</param>
    /// <remarks>Ordering: counted ended before it is uncounted, so a reader that saw it uncounted also sees it ended (see <see cref="TryReserve"/>).</remarks>
    private void EndOnItsWay(ref int counter, bool lookAgain = true)
    {
        Interlocked.Increment(ref _endedOnItsWay);
        Interlocked.Decrement(ref counter);
        if (lookAgain && _waiters.Count > 0)
        {
            StartCreationsForWaiters();
        }
    }

    private Slot<T>? TryReserveSlot()
    {
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            Slot<T>? slot = Volatile.Read(ref slots[i]);
            if (slot is not null && slot.TryTransition(SlotState.Empty, SlotState.Creating))
            {
                return slot;
            }
        }

        // Allocate a never-used slot: win the index by CAS, then publish the slot object (born Creating).
        while (true)
        {
            int index = Volatile.Read(ref _allocated);
            if (index >= slots.Length)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _allocated, index + 1, index) == index)
            {
                var slot = new Slot<T>(this, index, SlotState.Creating);
                PublishSlot(slots, index, slot);
                return slot;
            }
        }
    }

    /// <summary>
    /// Creates the resource of a reserved slot, bounded by <see cref="ConnectionPoolOptions.AcquireTimeout"/> (the
    /// creation's own bound, not any acquirer's). On success the slot is <c>Leased</c>, owned by the caller, and still
    /// counted in <see cref="_creating"/>: the caller releases or leases it, then gives the permit back. On failure the
    /// error is thrown and the caller calls <see cref="CreationFailed"/>.
    /// </summary>
    private ValueTask CreateIntoSlotAsync(Slot<T> slot)
    {
        long begin = _clock.Now;
        // The bound's timer never runs a throwing callback of the policy's on the timer thread (TimedCancellation).
        TimedCancellation? bound = _acquireTimeoutTicks == long.MaxValue ? null : new TimedCancellation(_time, _options.AcquireTimeout);
        ValueTask<T> create;
        try
        {
            create = _policy.CreateAsync(bound?.Token ?? CancellationToken.None);
        }
#pragma warning disable CA1031 // Reported through the returned task.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            bound?.Dispose();
            return ValueTask.FromException(ex);
        }

        if (create.IsCompletedSuccessfully)
        {
            bound?.Dispose();
            Created(slot, create.Result, begin);
            return default;
        }

        return AwaitCreationAsync(slot, create, bound, begin);
    }

    private async ValueTask AwaitCreationAsync(Slot<T> slot, ValueTask<T> create, TimedCancellation? bound, long begin)
    {
        T resource;
        try
        {
            if (bound is null)
            {
                resource = await create.ConfigureAwait(false);
            }
            else
            {
                // A creation that ignores its token is given up shortly after its bound (within the abandonment
                // budget), so it stops counting as on its way: acquirers and the next attempt are not stuck behind it.
                Task<T> pending = create.AsTask();
                Task ended = pending.WaitAsync(_options.AcquireTimeout + AbandonGrace(_options.AcquireTimeout), _time);
                await ended.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (await WaitOutOrTakeAbandonBudgetAsync(pending).ConfigureAwait(false))
                {
                    Interlocked.Increment(ref _totalAbandoned);
                    _logger.CheckAbandoned(Name, slot.Index, "creation", _options.AcquireTimeout.TotalMilliseconds);
                    _ = DestroyLateCreationAsync(pending, slot.Index);
                    throw new ResourceCreationException(
                        Name,
                        string.Create(CultureInfo.InvariantCulture, $"Pool '{Name}' gave up a creation that ignored its cancellation at the acquire timeout (AcquireTimeout = {_options.AcquireTimeout.TotalMilliseconds:0} ms). Is the server reachable and responsive?"),
                        null);
                }

                resource = await pending.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException ex) when (bound?.IsCancellationRequested == true)
        {
            throw new ResourceCreationException(
                Name,
                string.Create(CultureInfo.InvariantCulture, $"Pool '{Name}' could not create a resource within the acquire timeout (AcquireTimeout = {_options.AcquireTimeout.TotalMilliseconds:0} ms). Is the server reachable and responsive?"),
                ex);
        }
        finally
        {
            bound?.Dispose();
        }

        Created(slot, resource, begin);
    }

    /// <summary>Destroys the resource of an abandoned creation if it ever comes, then gives the abandonment budget back. Never faults.</summary>
    private async Task DestroyLateCreationAsync(Task<T> pending, int index)
    {
        try
        {
            await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (pending.IsCompletedSuccessfully)
            {
                await _policy.DestroyAsync(pending.Result).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // Logged; nobody else can observe it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, index, ex);
        }
        finally
        {
            GiveBackAbandonBudget();
            Ledger(abandoned: -1);
        }
    }

    private void Created(Slot<T> slot, T resource, long begin)
    {
        long end = _clock.Now;
        _creationTime.Record(end - begin);
        slot.Resource = resource;
        Ledger(resources: 1);
        slot.CreatedAt = end;
        slot.IdleSince = end;
        slot.ExpiresAt = ComputeExpiry(end);
        Interlocked.Increment(ref _totalCreated);
        int failures = _backoff.ConsecutiveFailures;
        long outageStart = _backoff.FirstErrorAt;
        _backoff.RecordSuccess();
        if (failures > 0)
        {
            // The outage's summary (its start and each change of error were logged at Warning).
            _logger.CreationRecovered(Name, failures, Elapsed(outageStart, end).TotalMilliseconds);
        }

        _metrics.RecordCreateTime(Elapsed(begin, end));
        _logger.ResourceCreated(Name, slot.Index, Elapsed(begin, end).TotalMilliseconds);
        slot.Transition(SlotState.Creating, SlotState.Leased);
    }

    /// <summary>Finishes a pool-owned creation that completed: releases the resource, or handles the failure. Never throws.</summary>
    /// <param name="slot">The creation's slot.</param>
    /// <param name="creation">The completed creation.</param>
    /// <param name="lookAgain">Whether the end of the creation runs the creation decision (<see langword="false"/> in the decision's own loop, which goes on).</param>
    /// <returns><see langword="true"/> if the creation succeeded.</returns>
    private bool FinishCreation(Slot<T> slot, ValueTask creation, bool lookAgain)
    {
        try
        {
            creation.GetAwaiter().GetResult();
        }
#pragma warning disable CA1031 // Recorded, logged and reported to a waiter.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            CreationFailed(slot, ex, reportToWaiters: true);
            return false;
        }

        // A new resource needs no validation before its first hand-out.
        Release(slot, slot.IdleSince, justChecked: true);

        // Ordering: released before the permit is given back (see "No surplus creation").
        EndOnItsWay(ref _creating, lookAgain);
        return true;
    }

    /// <summary>Awaits a pool-owned creation in the background, then finishes it (which looks for more work). Never faults.</summary>
    private async Task FinishCreationAsync(Slot<T> slot, Task creation)
    {
        await creation.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        FinishCreation(slot, new ValueTask(creation), lookAgain: true);
    }

    /// <summary>
    /// Handles a failed creation: back-off and log, the reservation given back, the error reported to the longest
    /// waiter, or to every waiter when nothing is left that could serve them (<c>live == 0</c>), then the room offered
    /// like any freed slot's (<see cref="OfferFreedRoom"/>).
    /// </summary>
    /// <param name="slot">The reserved slot.</param>
    /// <param name="error">The creation's error.</param>
    /// <param name="reportToWaiters"><see langword="false"/> when an acquirer's own synchronous creation failed: the acquirer throws it.</param>
    private void CreationFailed(Slot<T> slot, Exception error, bool reportToWaiters)
    {
        RecordCreationFailure(error);
        slot.Resource = null;
        slot.Transition(SlotState.Creating, SlotState.Empty);
        int live = UncountFreedSlot();

        // OfferFreedRoom, below, looks again for whoever still waits (and schedules the attempt after the back-off),
        // once the error was reported.
        EndOnItsWay(ref _creating, lookAgain: false);
        if (reportToWaiters && !IsDisposed)
        {
            if (live == 0)
            {
                // Nothing leased, idle or on its way: every waiter learns now, with this (fresh) error.
                List<(Waiter<T> Waiter, int Epoch)> all = _waiters.DequeueAll();
                for (int i = 0; i < all.Count; i++)
                {
                    Exception reported = i == 0 ? error : CreateOutageException(error);
                    all[i].Waiter.TryComplete(all[i].Epoch, new WaitResult<T>(null, WaitOutcome.CreationFailed, reported));
                }
            }
            else
            {
                while (_waiters.TryDequeue(out Waiter<T>? waiter, out int epoch))
                {
                    if (waiter!.TryComplete(epoch, new WaitResult<T>(null, WaitOutcome.CreationFailed, error)))
                    {
                        break;
                    }
                }
            }
        }

        OfferFreedRoom(live);
    }

    /// <summary>
    /// Counts a failed creation and logs it as an outage: its start and each change of error at Warning with the
    /// error, every further attempt that fails the same way at Debug without a stack trace.
    /// </summary>
    private void RecordCreationFailure(Exception error)
    {
        Interlocked.Increment(ref _totalCreationFailures);
        Exception? previous = _backoff.LastError;
        TimeSpan delay = _backoff.RecordFailure(error, _clock.Now, IsPermanent(error));
        int failures = _backoff.ConsecutiveFailures;
        string kind = ErrorKind(error);
        bool news = failures == 1 || previous is null || kind != ErrorKind(previous);
        _logger.CreationFailed(news ? LogLevel.Warning : LogLevel.Debug, Name, failures, kind, delay.TotalMilliseconds, news ? error : null);
    }

    /// <summary>The policy's <see cref="IResourcePolicy{T}.IsPermanentCreationError"/>; one that throws says "worth retrying".</summary>
    private bool IsPermanent(Exception error)
    {
        try
        {
            return _policy.IsPermanentCreationError(error);
        }
#pragma warning disable CA1031 // A classifier that throws says "not permanent": the pool keeps retrying, as before.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    /// <summary>
    /// The error of an acquirer that fails fast: the last creation failed in a way retrying cannot fix, the back-off
    /// runs and the pool holds nothing that could serve it. The message is the same for every such acquirer (no
    /// counts or delays in it) so logs group it; the creation's error is the inner exception.
    /// </summary>
    private ResourceCreationException CreatePermanentFailureException(Exception error) =>
        new(
            Name,
            $"Pool '{Name}' cannot create a resource: the last attempt failed with an error retrying cannot fix ({ErrorKind(error)}: {error.Message}). Acquires fail at once until an attempt succeeds; the pool still tries again once per back-off interval (at most CreationBackoffMax).",
            error);

    /// <summary>Names an error by its type, a database error's SQLSTATE and its cause's type (never its message, which may vary).</summary>
    private static string ErrorKind(Exception error)
    {
        string kind = error.GetType().Name;
        if (error is System.Data.Common.DbException { SqlState: { } sqlState })
        {
            kind += " " + sqlState;
        }

        return error.InnerException is { } cause ? $"{kind} ({cause.GetType().Name})" : kind;
    }

    /// <summary>The error of the waiters behind the first when a creation fails with nothing left to serve them: the same, fresh error, wrapped (one exception object is thrown to one caller only).</summary>
    private ResourceCreationException CreateOutageException(Exception error)
    {
        // One condition, one message (log grouping): the error's own text is inside; counts and delays are not.
        string message = $"Pool '{Name}' holds no resource and could not create one: the attempt that just ended failed with {error.GetType().Name}: {error.Message} The pool retries after a back-off and recovers by itself once creation succeeds.";
        return new ResourceCreationException(Name, message, error);
    }

    private long ComputeExpiry(long createdAt)
    {
        if (_lifetimeTicks == long.MaxValue)
        {
            return long.MaxValue;
        }

#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
        long jitter = _lifetimeJitterTicks > 0 ? (long)(Random.Shared.NextDouble() * _lifetimeJitterTicks) : 0;
#pragma warning restore CA5394
        return createdAt + _lifetimeTicks - jitter;
    }
}
