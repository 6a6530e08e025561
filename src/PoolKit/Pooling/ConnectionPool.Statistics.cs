using System.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Statistics and invariants.</content>
public sealed partial class ConnectionPool<T>
{
    /// <inheritdoc />
    public PoolStatistics GetStatistics()
    {
        int idle = 0, leased = 0, creating = 0, destroying = 0;
        long leases = 0;
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            if (Volatile.Read(ref slots[i]) is not { } slot)
            {
                continue;
            }

            leases += Volatile.Read(ref slot.Leases);
            switch (slot.CurrentState)
            {
                case SlotState.Idle: idle++; break;
                case SlotState.Leased: leased++; break;
                case SlotState.Creating: creating++; break;
                case SlotState.Destroying: destroying++; break;
                default: break;
            }
        }

        long[] by = _destroyedBy;
        return new PoolStatistics(
            idle,
            leased,
            creating,
            destroying,
            _waiters.Count,
            _options.MinSize,
            _options.MaxSize,
            Interlocked.Read(ref _totalCreated),
            Interlocked.Read(ref _totalDestroyed),
            Interlocked.Read(ref _totalCreationFailures),
            Interlocked.Read(ref _totalTimeouts))
        {
            Returning = Math.Min(Volatile.Read(ref _returning), leased),
            TotalAcquires = leases,
            TotalAcquiresWaited = _waiters.Enqueued,
            TotalAcquiresCanceled = Interlocked.Read(ref _totalCanceled),
            TotalAcquiresRejected = Interlocked.Read(ref _totalRejected),
            TotalAcquiresShed = Interlocked.Read(ref _totalShed),
            TotalAbandoned = Interlocked.Read(ref _totalAbandoned),
            AbandonedRunning = Volatile.Read(ref _abandonedRunning),
            DestroyedBy = new PoolDestroyedCounts(
                Broken: Interlocked.Read(ref by[(int)DestroyReason.Broken]),
                ClosedByCaller: Interlocked.Read(ref by[(int)DestroyReason.ClosedByCaller]),
                Unusable: Interlocked.Read(ref by[(int)DestroyReason.Unusable]),
                ValidationFailed: Interlocked.Read(ref by[(int)DestroyReason.ValidationFailed]),
                ResetFailed: Interlocked.Read(ref by[(int)DestroyReason.ResetFailed]),
                Lifetime: Interlocked.Read(ref by[(int)DestroyReason.Expired]),
                Idle: Interlocked.Read(ref by[(int)DestroyReason.IdleTimeout]),
                Cleared: Interlocked.Read(ref by[(int)DestroyReason.Cleared]),
                PoolDisposed: Interlocked.Read(ref by[(int)DestroyReason.PoolDisposed]))
            {
                Resized = Interlocked.Read(ref by[(int)DestroyReason.Resized]),
            },
            IsPaused = IsPaused,
        };
    }

    /// <summary>
    /// Checks the slot array's invariants. Exact only when the pool is quiet (no acquire, return, creation or
    /// destruction in flight); tests call it at such points, and a debug build calls it when a disposed pool has drained.
    /// </summary>
    /// <param name="countersSettled"><see langword="false"/> when the creation and returning counters may still be on their
    /// way down (they are decremented just after the slot they count was released, so a drained pool can see them late).</param>
    internal void AssertInvariantsQuiescent(bool countersSettled = true)
    {
        PoolStatistics s = GetStatistics();
        int live = Volatile.Read(ref _live);
        Check(live == s.Live, $"_live ({live}) equals the non-empty slots ({s.Live})");
        Check(s.Live <= _options.MaxSize, $"live ({s.Live}) <= MaxSize ({_options.MaxSize})");
        Check(!countersSettled || Volatile.Read(ref _creating) == s.Creating, $"_creating ({_creating}) equals the creating slots ({s.Creating})");
        Check(!countersSettled || Volatile.Read(ref _returning) == 0, $"_returning ({_returning}) is 0 at rest");
        Check(Volatile.Read(ref _allocated) <= _slots.Length, "allocated slots <= the slot array's length");
        Check(s.Waiting == 0 || s.Idle == 0, $"nobody waits next to an idle resource (waiting {s.Waiting}, idle {s.Idle})");
        for (int i = 0; i < Volatile.Read(ref _allocated); i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } slot)
            {
                SlotState state = slot.CurrentState;
                Check((state is SlotState.Idle or SlotState.Leased) == (slot.Resource is not null), $"slot {i} in state {state} holds a resource only when idle or leased");
            }
        }

        static void Check(bool condition, string what)
        {
            if (!condition)
            {
                ThrowHelper.ThrowBug($"invariant violated: {what}");
            }
        }
    }

#if DEBUG
    /// <summary>
    /// Debug builds: the ledger <see cref="Ledger"/> keeps, three counts packed in one word (21 bits each, MaxSize is
    /// at most 2^16) so that every change and its check see one consistent state without a lock.
    /// </summary>
    private long _ledger;
#endif

    /// <summary>
    /// Debug builds: records a change of live slots (reservations), resources that exist in the pool's hands (created
    /// into a slot, their destruction not ended) or abandoned work (a unit of the abandonment budget), and asserts the
    /// conservation that must hold at every instant, under contention too: <c>resources ≤ live + abandoned</c>, so
    /// with <c>live ≤ MaxSize</c> and <c>abandoned ≤ MaxSize</c> (asserted on the counters themselves) no more than
    /// twice MaxSize resources ever exist.
    /// </summary>
    /// <remarks>
    /// Each party records its changes in the order the protocol prescribes (a reservation before the resource it
    /// makes room for, the end of a destruction before the reservation is given up, a unit of the budget before an
    /// abandoned resource's reservation is given up and after that resource is gone), and the ledger's interlocked
    /// additions follow the order of the operations they record; so the assertion fires only when a path breaks that
    /// order (a slot freed before its resource is destroyed, a resource created without a reservation).
    /// </remarks>
    [Conditional("DEBUG")]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822:Mark members as static", Justification = "Instance data in Debug builds only; Release compiles the calls out.")]
    private void Ledger(int live = 0, int resources = 0, int abandoned = 0)
    {
#if DEBUG
        const int Bits = 21;
        const long Mask = (1L << Bits) - 1;
        long word = Interlocked.Add(ref _ledger, live + ((long)resources << Bits) + ((long)abandoned << (2 * Bits)));

        // A count below zero borrows from the next field and shows as a huge value in its own.
        long l = word & Mask, r = (word >> Bits) & Mask, a = word >> (2 * Bits);
        Debug.Assert(l <= Mask / 2 && r <= Mask / 2 && a >= 0 && a <= Mask / 2, $"ledger counts never go below zero (live {l}, resources {r}, abandoned {a})");
        Debug.Assert(r <= l + a, $"resources in the pool's hands ({r}) <= live slots ({l}) + abandoned work ({a})");
#endif
    }

#if DEBUG
    /// <summary>Debug builds: the ledger's counts (for tests, at rest: they equal the pool's own).</summary>
    internal (int Live, int Resources, int Abandoned) LedgerCounts
    {
        get
        {
            long word = Volatile.Read(ref _ledger);
            return ((int)(word & ((1L << 21) - 1)), (int)((word >> 21) & ((1L << 21) - 1)), (int)(word >> 42));
        }
    }
#endif

    [Conditional("DEBUG")]
    private void AssertCountersInRange()
    {
        int live = Volatile.Read(ref _live);
        int creating = Volatile.Read(ref _creating);
        // Not MaxSize: after a shrink, live stays above it until the excess comes back (ConnectionPool.Sizing.cs).
        Debug.Assert(live >= 0 && live <= _slots.Length, $"0 <= live ({live}) <= the slot array's length");
        Debug.Assert(creating >= 0 && creating <= _options.MaxConcurrentCreations, $"0 <= creating ({creating}) <= MaxConcurrentCreations");
        Debug.Assert(Volatile.Read(ref _returning) >= 0, "returning >= 0");
        int abandoned = Volatile.Read(ref _abandonedRunning);
        Debug.Assert(abandoned >= 0 && abandoned <= AbandonBudget, $"0 <= abandoned work running ({abandoned}) <= AbandonBudget");
    }
}
