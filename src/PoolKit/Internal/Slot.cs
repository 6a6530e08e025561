using System.Diagnostics;

namespace PoolKit.Internal;

/// <summary>One entry of the pool's slot array: a place for one resource and everything the pool knows about it.</summary>
/// <remarks>
/// <para><b>Concurrency.</b> <see cref="State"/> changes only through <see cref="TryTransition"/> and
/// <see cref="Transition"/> (<see cref="Interlocked.CompareExchange(ref int, int, int)"/>). Two transitions are
/// contended and decide ownership: <c>Empty → Creating</c> (a reserver wins the slot) and <c>Idle → Leased</c>
/// (an acquirer or the maintenance loop wins the resource). Every other transition is made by the slot's
/// current owner and is expected to succeed; a failure is a bug and throws.</para>
/// <para>Ownership: whoever moved the slot into <c>Creating</c> or <c>Leased</c> owns it exclusively until it
/// moves it to <c>Idle</c> or <c>Empty</c>, and is the only writer of the plain fields below. The interlocked
/// state write that ends ownership publishes those writes to the next owner, whose winning CAS acquires them.</para>
/// <para><see cref="LeaseVersion"/> identifies the current lease: a lease captures it, and returning the lease
/// advances it by CAS, so a second return, or a stale copy of the lease, fails the CAS and cannot touch the
/// slot again.</para>
/// </remarks>
/// <typeparam name="T">The pooled resource type.</typeparam>
[DebuggerDisplay("Slot {Index}: {(SlotState)State}, version {LeaseVersion}")]
internal sealed class Slot<T>
    where T : class
{
    /// <summary>The slot's position in the pool's array.</summary>
    public readonly int Index;

    /// <summary>A <see cref="SlotState"/>; changed only by CAS.</summary>
    public int State;

    /// <summary>The version of the current lease; advanced by CAS when the lease is returned.</summary>
    public int LeaseVersion;

    /// <summary>The resource; non-null in <c>Idle</c> and <c>Leased</c>. Written by the owner.</summary>
    public T? Resource;

    /// <summary>The pool generation the resource belongs to; a stale generation means "cleared, destroy on sight".</summary>
    public int Generation;

    /// <summary>Tick (pool clock) of the resource's creation.</summary>
    public long CreatedAt;

    /// <summary>Tick after which the resource must not be handed out again; <see cref="long.MaxValue"/> for never.</summary>
    public long ExpiresAt;

    /// <summary>Tick of the last return (or of the creation), for validation and idle pruning.</summary>
    public long IdleSince;

    /// <summary>Tick of the current lease's start, for use-time metrics and leak reports.</summary>
    public long LeasedAt;

    /// <summary>Precise timestamp (TimeProvider units) of the lease's start, or 0 when no use-time listener was enabled.</summary>
    public long UseStartPrecise;

    /// <summary>Set by the lease holder to have the resource destroyed on return.</summary>
    public bool Broken;

    /// <summary>Where the current lease was acquired, when leak detection is on.</summary>
    public string? AcquiredAt;

    /// <summary>The lease version last reported as a suspected leak, so each lease is reported once.</summary>
    public int LeakReportedVersion = -1;

    public Slot(int index, SlotState initial)
    {
        Index = index;
        State = (int)initial;
    }

    /// <summary>Gets the current state.</summary>
    public SlotState CurrentState => (SlotState)Volatile.Read(ref State);

    /// <summary>Moves the slot from <paramref name="from"/> to <paramref name="to"/> if it is in <paramref name="from"/>.</summary>
    /// <returns><see langword="true"/> if this call made the transition.</returns>
    public bool TryTransition(SlotState from, SlotState to) =>
        Interlocked.CompareExchange(ref State, (int)to, (int)from) == (int)from;

    /// <summary>An owner's transition, which cannot fail unless the pool has a bug.</summary>
    public void Transition(SlotState from, SlotState to)
    {
        if (!TryTransition(from, to))
        {
            ThrowHelper.ThrowBug($"slot {Index} was expected in state {from} to move to {to}, but is in state {CurrentState}");
        }
    }
}
