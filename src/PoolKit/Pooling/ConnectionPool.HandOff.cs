using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using PoolKit.Internal;

namespace PoolKit;

/// <content>
/// The hand-off protocol: the one gate every hand-out passes, both halves of the hand-off (a releaser giving a slot
/// to the longest waiter or publishing it idle; an acquirer scanning before and after it enqueues) and the proof
/// that no wake-up is lost.
/// </content>
/// <remarks>
/// <para><b>No lost wake-ups: the proof.</b> Two parties race: a <i>releaser</i> holding an owned slot (a return after
/// its reset, a finished creation or validation), and an <i>acquirer</i> that found nothing and enqueues.</para>
/// <list type="number">
/// <item>The releaser reads the waiter count; if it is not zero it dequeues the head and completes it with the slot.
/// Otherwise it publishes the slot as <c>Idle</c> with a CAS, then reads the waiter count <i>again</i>
/// (<see cref="AfterPublishIdle"/>) and, while it is not zero and the slot is still idle, takes the slot back and hands
/// it to the head.</item>
/// <item>The acquirer enqueues (under the queue lock), then scans the slots <i>again</i>
/// (<see cref="RescanAfterEnqueue"/>) and hands every idle slot it wins to the head of the queue (itself, or somebody
/// who came earlier), until it is itself served or finds nothing.</item>
/// </list>
/// <para>Suppose the acquirer waits forever while the slot stays idle. Its rescan did not see the slot idle, so the
/// rescan's read came before the publishing CAS; its enqueue came before its rescan. The releaser's second read of the
/// count comes after its publishing CAS. Both the publishing CAS (an interlocked operation) and the enqueue (a lock
/// release followed, in the acquirer, by the interlocked CAS attempts of the rescan) are full fences on every platform
/// .NET supports, Arm64 included: an interlocked operation is a full barrier in the .NET memory model, and a
/// <c>Volatile.Read</c> after it cannot be satisfied from before it. So in the total order of these
/// fenced operations enqueue → rescan-read → publish → second count read, and the releaser's second read sees the
/// count including the acquirer: it hands the slot to the head. A contradiction; so a waiter never sleeps next to an
/// idle slot. Everything else that makes a resource available (<see cref="Release"/>) goes through step 1, and
/// everything that queues goes through step 2; capacity events (a slot emptied, a creation or reset ended, the
/// back-off ended) do not wake waiters at all: they run <see cref="StartCreationsForWaiters()"/>, whose new resources are
/// released by step 1.</para>
/// <para><b>No barging.</b> A newcomer that sees anybody waiting neither scans nor creates: it queues at the tail.
/// Capacity that frees up while somebody waits becomes a creation that the pool owns and releases to the head, so no
/// newcomer can take it.</para>
/// </remarks>
public sealed partial class ConnectionPool<T>
{
    /// <summary>
    /// The one gate every hand-out passes: disposal, generation (<see cref="ClearAsync"/>), lifetime and the policy's
    /// cheap <see cref="IResourcePolicy{T}.IsUsable"/> check. The validation window is applied after it, by the caller
    /// (<see cref="NeedsValidation"/>).
    /// </summary>
    /// <returns><see langword="null"/> if the resource may be handed out; otherwise why it must be destroyed.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private DestroyReason? CheckOnHandOut(Slot<T> slot, long now)
    {
        if (IsDisposed)
        {
            return DestroyReason.PoolDisposed;
        }

        if (slot.Generation != Volatile.Read(ref _generation))
        {
            return DestroyReason.Cleared;
        }

        if (now >= slot.ExpiresAt)
        {
            return DestroyReason.Expired;
        }

        // PERF: the policy's check (and its exception handler, which would keep this method from being inlined) out
        // of line, and skipped for a policy that does not override it.
        return _traits.AlwaysUsable ? null : CheckUsable(slot);
    }

    /// <summary>The policy's <see cref="IResourcePolicy{T}.IsUsable"/> part of <see cref="CheckOnHandOut"/>.</summary>
    private DestroyReason? CheckUsable(Slot<T> slot)
    {
        try
        {
            return _policy.IsUsable(slot.Resource!) ? null : DestroyReason.Unusable;
        }
#pragma warning disable CA1031 // A usability check that throws says "not usable".
        catch (Exception)
#pragma warning restore CA1031
        {
            return DestroyReason.Unusable;
        }
    }

    /// <summary>Whether a resource that passed the gate must be validated before use (idle beyond the bypass window).</summary>
    /// <remarks>A window of zero validates every hand-out, also when <paramref name="now"/> is a cached tick older than the exact one <see cref="Slot{T}.IdleSince"/> was stamped with.</remarks>
    private bool NeedsValidation(Slot<T> slot, long now) => _bypassTicks == 0 || now - slot.IdleSince >= _bypassTicks;

    /// <summary>
    /// The first look of <see cref="AcquireAsync(CancellationToken)"/>'s fast path and of <see cref="TryAcquire"/>: no
    /// barging, so only when nobody waits, wins an idle slot that passes the gate (<see cref="TryTakeIdle"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryTakeIdleIfNobodyWaits(long now, [NotNullWhen(true)] out Slot<T>? slot, out bool needsValidation)
    {
        if (_waiters.Count == 0)
        {
            return TryTakeIdle(now, out slot, out needsValidation);
        }

        slot = null;
        needsValidation = false;
        return false;
    }

    /// <summary>
    /// Wins the first idle slot by CAS that passes the gate, destroying on the way any resource that does not.
    /// </summary>
    /// <param name="now">The current timestamp.</param>
    /// <param name="slot">The slot won, now <c>Leased</c> and owned by the caller.</param>
    /// <param name="needsValidation">Whether the resource has been idle beyond the bypass window.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryTakeIdle(long now, [NotNullWhen(true)] out Slot<T>? slot, out bool needsValidation)
    {
        if (IsPaused)
        {
            // Nothing is handed out while paused (ConnectionPool.Sizing.cs).
            slot = null;
            needsValidation = false;
            return false;
        }

        Slot<T>?[] slots = _slots;

        // PERF: the slot published last first (a hint, read racily; the CAS decides): with 1,023 of 1,024 slots leased
        // the one idle slot is found at once instead of after a scan of the whole array; uncontended, it is the slot
        // the last return published, found without a loop.
        int hint = Volatile.Read(ref _idleHint);
        if ((uint)hint < (uint)slots.Length && TryOwnIdle(Volatile.Read(ref slots[hint]), now, out slot, out needsValidation))
        {
            return true;
        }

        return TryTakeIdleByScan(now, out slot, out needsValidation);
    }

    /// <summary>The scan of <see cref="TryTakeIdle"/>, when the hinted slot is not idle.</summary>
    private bool TryTakeIdleByScan(long now, [NotNullWhen(true)] out Slot<T>? slot, out bool needsValidation)
    {
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            if (TryOwnIdle(Volatile.Read(ref slots[i]), now, out slot, out needsValidation))
            {
                return true;
            }
        }

        slot = null;
        needsValidation = false;
        return false;
    }

    /// <summary>Wins one slot if it is idle and its resource passes the gate; destroys the resource if it does not.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryOwnIdle(Slot<T>? candidate, long now, [NotNullWhen(true)] out Slot<T>? slot, out bool needsValidation)
    {
        slot = null;
        needsValidation = false;
        if (candidate is null || !candidate.TryTransition(SlotState.Idle, SlotState.Leased))
        {
            return false;
        }

        // We own the slot now.
        if (CheckOnHandOut(candidate, now) is { } reason)
        {
            _ = DestroyOwned(candidate, reason);
            return false;
        }

        slot = candidate;
        needsValidation = NeedsValidation(candidate, now);
        return true;
    }

    /// <summary>Remembers the slot just published as idle, for the next <see cref="TryTakeIdle"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void NoteIdle(Slot<T> slot)
    {
        // PERF: written only when it changes, so returners of one hot slot do not bounce the cache line.
        if (Volatile.Read(ref _idleHint) != slot.Index)
        {
            Volatile.Write(ref _idleHint, slot.Index);
        }
    }

    /// <summary>Makes an owned, freshly reset, created or validated slot available: to the longest waiter if any, else idle.</summary>
    /// <param name="slot">The owned slot.</param>
    /// <param name="now">The current tick; the resource's idle time starts from it.</param>
    /// <param name="justChecked">The resource was just created or validated: a waiter gets it without another validation (with a zero window, validating it again would release it again, for ever).</param>
    /// <returns><see langword="true"/> if the resource was kept (handed off, idle, or being validated); <see langword="false"/> if it was destroyed on the way (the gate, a failed validation, disposal).</returns>
    private bool Release(Slot<T> slot, long now, bool justChecked = false)
    {
        slot.IdleSince = now;
        return MakeAvailable(slot, now, justChecked);
    }

    /// <summary>Makes an owned slot available without touching its idle timestamp (step 1 of the proof).</summary>
    /// <returns>As <see cref="Release"/>.</returns>
    private bool MakeAvailable(Slot<T> slot, long now, bool justChecked = false)
    {
        // Above MaxSize after a shrink: destroyed instead of kept (ConnectionPool.Sizing.cs).
        if (Volatile.Read(ref _live) > _options.MaxSize && TryDestroyExcess(slot))
        {
            return false;
        }

        if (_waiters.Count > 0 && !IsPaused && TryHandOff(slot, now, out bool destroyed, justChecked))
        {
            return !destroyed;
        }

#if DEBUG
        TestHookBeforePublishIdle?.Invoke();
#endif

        // Interlocked: a full fence, so the reads in AfterPublishIdle cannot move before the publication.
        slot.Transition(SlotState.Leased, SlotState.Idle);
        return AfterPublishIdle(slot, justChecked);
    }

    /// <summary>Closes the races of a slot just published as idle with waiters (step 1, second read) and with disposal.</summary>
    /// <returns><see langword="false"/> if this call destroyed the resource (the gate failed at a hand-off, or the pool is disposed); otherwise <see langword="true"/>.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool AfterPublishIdle(Slot<T> slot, bool justChecked = false)
    {
        NoteIdle(slot);

        // PERF: the common case inline (nobody waits, not disposed); the same reads again below otherwise.
#if DEBUG
        if (TestHookAfterPublishIdle is not null)
        {
            return AfterPublishIdleRaces(slot, justChecked);
        }
#endif
        if (_waiters.Count == 0 && !IsDisposed)
        {
            return true;
        }

        return AfterPublishIdleRaces(slot, justChecked);
    }

    /// <summary>The part of <see cref="AfterPublishIdle"/> that closes the races.</summary>
    private bool AfterPublishIdleRaces(Slot<T> slot, bool justChecked)
    {
#if DEBUG
        TestHookAfterPublishIdle?.Invoke();
#endif

        // A waiter that enqueued after our first look rescans after enqueueing; hand the slot over ourselves if it
        // missed it, so that FIFO order holds. Each round hands off, destroys, or sees the queue empty.
        while (_waiters.Count > 0 && !IsPaused && slot.TryTransition(SlotState.Idle, SlotState.Leased))
        {
            if (TryHandOff(slot, _clock.Now, out bool destroyed, justChecked))
            {
                return !destroyed;
            }

            slot.Transition(SlotState.Leased, SlotState.Idle);
        }

        // Disposal sets the flag and then destroys idle slots; whichever of us looks second sees the other.
        if (IsDisposed && slot.TryTransition(SlotState.Idle, SlotState.Leased))
        {
            _ = DestroyOwned(slot, DestroyReason.PoolDisposed);
            return false;
        }

        return true;
    }

    /// <summary>Gives an owned slot, still leased, to the longest waiter, through the gate.</summary>
    /// <remarks>
    /// A waiter is only handed a resource it can use at once: one idle beyond the validation window is validated
    /// here first. A synchronous answer is acted on at once; an asynchronous validation keeps the slot (bounded by
    /// <see cref="ConnectionPoolOptions.ValidationTimeout"/>, counted as on its way so nobody creates because of
    /// it) and releases it to the head of the queue when it ends. The waiter's own deadline and token keep running
    /// meanwhile.
    /// </remarks>
    /// <returns><see langword="true"/> if the slot left the caller's hands (handed off, destroyed by the gate or by a failed validation, or being validated); <see langword="false"/> if nobody (still) waits.</returns>
    private bool TryHandOff(Slot<T> slot, long now) => TryHandOff(slot, now, out _);

    /// <inheritdoc cref="TryHandOff(Slot{T}, long)"/>
    /// <param name="slot">The owned slot.</param>
    /// <param name="now">The current tick.</param>
    /// <param name="destroyed">Whether the slot left the caller's hands because its resource was destroyed (the gate, a failed validation).</param>
    /// <param name="justChecked">The resource was just created or validated: no validation now (see <see cref="Release"/>).</param>
    private bool TryHandOff(Slot<T> slot, long now, out bool destroyed, bool justChecked = false)
    {
        destroyed = false;
        if (CheckOnHandOut(slot, now) is { } reason)
        {
            _ = DestroyOwned(slot, reason);
            destroyed = true;
            return true;
        }

        if (!justChecked && NeedsValidation(slot, now))
        {
            bool? valid = ValidateStaleNow(slot, now);
            if (valid != true)
            {
                // Destroyed (false), or validated in the background (null), which releases it when it ends.
                destroyed = valid == false;
                return true;
            }
        }

        Debug.Assert(slot.CurrentState == SlotState.Leased && slot.Resource is not null, "a slot is handed to a waiter only while owned (Leased) and holding a resource");
        var result = new WaitResult<T>(slot, WaitOutcome.HandedOff);
        while (_waiters.TryDequeue(out Waiter<T>? waiter, out int epoch))
        {
            if (waiter!.TryComplete(epoch, result))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Step 2 of the proof: after enqueueing, hands every idle slot this acquirer wins to the head of the queue, until
    /// the acquirer itself is served or nothing is idle.
    /// </summary>
    /// <param name="waiter">The waiter just enqueued.</param>
    /// <param name="now">The tick of this round's first look; a few microseconds old at most, which the expiry and validation-window checks tolerate (PERF: saves a clock read per wait).</param>
    /// <returns><see langword="true"/> if this acquirer's wait is already completed.</returns>
    private bool RescanAfterEnqueue(Waiter<T> waiter, long now)
    {
        if (IsDisposed)
        {
            if (waiter.TryCompleteByOwner(new WaitResult<T>(null, WaitOutcome.Disposed)))
            {
                _waiters.Remove(waiter);
            }

            return true;
        }

        HandIdleToWaiters(now, until: waiter);
        return !waiter.IsPending;
    }

    /// <summary>
    /// Hands idle slots to the longest waiters while there are both: while anybody waits, or, for an acquirer's rescan
    /// (<paramref name="until"/>), until that acquirer is served.
    /// </summary>
    /// <remarks>
    /// A slot won here is <i>in transit</i> until it is handed over, destroyed, validated or put back: it is counted in
    /// <see cref="_returning"/> from <i>before</i> the CAS that wins it (so a scan that finds it taken finds it counted
    /// afterwards) to after it left (<see cref="EndOnItsWay"/>), and no scan takes it for a free slot to create into
    /// (issue 19, defect 9: a newcomer that saw nothing idle and nothing on its way created a fourth resource for three
    /// callers while a rescan held an idle slot it was about to put back). The transit's end does not run the creation
    /// decision: every caller makes it right after (the decision's own look, an acquirer's rescan).
    /// </remarks>
    /// <returns><see langword="true"/> if a slot was held in transit (handed off, destroyed or validated on the way, or put back): what is idle changed.</returns>
    private bool HandIdleToWaiters(long now, Waiter<T>? until = null)
    {
        bool inTransit = false;
        while ((until?.IsPending ?? _waiters.Count > 0) && TryTakeIdleInTransit(now, ref inTransit, out Slot<T>? idle))
        {
#if DEBUG
            TestHookIdleSlotWonForWaiters?.Invoke();
#endif

            // The head may be the acquirer itself or somebody who came earlier: FIFO either way.
            if (!TryHandOff(idle, now))
            {
                // Nobody waits any more (the acquirer included: completed meanwhile); put it back.
                MakeAvailable(idle, now);
                break;
            }
        }

        if (inTransit)
        {
            EndOnItsWay(ref _returning, lookAgain: false);
        }

        return inTransit;
    }

    /// <summary>
    /// <see cref="TryTakeIdle"/> for <see cref="HandIdleToWaiters"/>: before the first CAS on a slot that looks idle, the
    /// transit is counted in <see cref="_returning"/> (once per look, <paramref name="inTransit"/>).
    /// </summary>
    private bool TryTakeIdleInTransit(long now, ref bool inTransit, [NotNullWhen(true)] out Slot<T>? slot)
    {
        if (IsPaused)
        {
            // Nothing is handed out while paused; Resume hands idle slots to the waiters (ConnectionPool.Sizing.cs).
            slot = null;
            return false;
        }

        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            Slot<T>? candidate = Volatile.Read(ref slots[i]);
            if (candidate is null || candidate.CurrentState != SlotState.Idle)
            {
                continue;
            }

            // Ordering: counted before the CAS that may win it (see the remarks of HandIdleToWaiters).
            if (!inTransit)
            {
                Interlocked.Increment(ref _returning);
                inTransit = true;
            }

            if (TryOwnIdle(candidate, now, out slot, out _))
            {
                return true;
            }
        }

        slot = null;
        return false;
    }
}
