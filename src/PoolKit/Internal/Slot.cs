using System.Diagnostics;

namespace PoolKit.Internal;

/// <summary>One entry of the pool's slot array: a place for one resource and everything the pool knows about it.</summary>
/// <remarks>
/// <para><b>Concurrency.</b> <see cref="Word"/> packs the <see cref="SlotState"/> (low <see cref="StateBits"/> bits)
/// and the lease version (the rest) into one 64-bit word that changes only by
/// <see cref="Interlocked.CompareExchange(ref long, long, long)"/>. Two transitions are contended and decide
/// ownership: <c>Empty → Creating</c> (a reserver wins the slot) and <c>Idle → Leased</c> (an acquirer or the
/// maintenance loop wins the resource). Every other transition is made by the slot's current owner and is expected to
/// succeed; a failure is a bug and throws.</para>
/// <para>Ownership: whoever moved the slot into <c>Creating</c> or <c>Leased</c> owns it exclusively until it moves it
/// to <c>Idle</c> or <c>Empty</c>, and is the only writer of the plain fields below. The interlocked write of
/// <see cref="Word"/> that ends ownership publishes those writes to the next owner, whose winning CAS acquires
/// them.</para>
/// <para>The version identifies the current lease: a lease captures it, and only the end of a lease advances it (by
/// CAS, on the same word as the state), so a second return, or a stale copy of the lease, fails its CAS and cannot
/// touch the slot again. Every other transition keeps the version. Because state and version share one word,
/// ending a lease and publishing the slot as <c>Idle</c> can be a single CAS <c>(v, Leased) → (v + 1, Idle)</c>
/// when nothing has to run in between (see <c>ConnectionPool.Return</c>). 61 bits of version do not wrap in
/// practice.</para>
/// </remarks>
/// <typeparam name="T">The pooled resource type.</typeparam>
[DebuggerDisplay("Slot {Index}: {CurrentState}, version {CurrentVersion}")]
internal sealed class Slot<T>
    where T : class
{
    /// <summary>How many low bits of <see cref="Word"/> hold the state.</summary>
    public const int StateBits = 3;

    private const long StateMask = (1 << StateBits) - 1;

    /// <summary>The pool the slot belongs to (so that a lease needs only the slot and a version).</summary>
    public readonly ConnectionPool<T> Pool;

    /// <summary>The slot's position in the pool's array.</summary>
    public readonly int Index;

    /// <summary>(lease version &lt;&lt; <see cref="StateBits"/>) | <see cref="SlotState"/>; changed only by CAS.</summary>
    public long Word;

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

    /// <summary>Set by the lease holder to have the resource destroyed on return: the <see cref="DestroyReason"/> + 1 (Broken or ClosedByCaller); 0 otherwise (PERF: a plain int, not a nullable, on the hot path).</summary>
    public int MarkedForDestruction;

    /// <summary>The stack trace of the current lease's acquire, when leak detection is on.</summary>
    public string? AcquireStackTrace;

    /// <summary>Leases handed out from this slot; written only by the slot's owner (see the pool's statistics).</summary>
    public long Leases;

    /// <summary>
    /// The token source an asynchronous reset or validation of this slot is bounded by; created on first use, owned
    /// by the slot's owner, reused as long as it was not canceled.
    /// </summary>
    public CancellationTokenSource? CheckBound;

    /// <summary>
    /// The <see cref="LeasedAt"/> of the lease last reported as a suspected leak, so each lease is reported once: keyed
    /// by the lease's start, not by the slot's version, which a return advances while the slot stays leased to the
    /// pool for its reset (a version key reported the same lease again then).
    /// </summary>
    public long LeakReportedFor = -1;

    public Slot(ConnectionPool<T> pool, int index, SlotState initial)
    {
        Pool = pool;
        Index = index;
        Word = (long)initial;
    }

    /// <summary>Gets the current state.</summary>
    public SlotState CurrentState => StateOf(Volatile.Read(ref Word));

    /// <summary>Gets the current lease version.</summary>
    public long CurrentVersion => VersionOf(Volatile.Read(ref Word));

    /// <summary>Packs a version and a state into a word.</summary>
    public static long Pack(long version, SlotState state) => (version << StateBits) | (long)state;

    /// <summary>Gets the state of a word.</summary>
    public static SlotState StateOf(long word) => (SlotState)(word & StateMask);

    /// <summary>Gets the lease version of a word.</summary>
    public static long VersionOf(long word) => word >> StateBits;

    /// <summary>Moves the slot from <paramref name="from"/> to <paramref name="to"/> if it is in <paramref name="from"/>, keeping the version.</summary>
    /// <returns><see langword="true"/> if this call made the transition.</returns>
    public bool TryTransition(SlotState from, SlotState to)
    {
        long word = Volatile.Read(ref Word);

        // The version changes only together with a state change (the end of a lease), so a word read in `from`
        // that is still current when the CAS runs is exactly the word to replace.
        return StateOf(word) == from && Interlocked.CompareExchange(ref Word, word - (long)from + (long)to, word) == word;
    }

    /// <summary>An owner's transition, which cannot fail unless the pool has a bug.</summary>
    public void Transition(SlotState from, SlotState to)
    {
        if (!TryTransition(from, to))
        {
            ThrowHelper.ThrowBug($"slot {Index} was expected in state {from} to move to {to}, but is in state {CurrentState}");
        }
    }

    /// <summary>
    /// Ends lease <paramref name="version"/>, which must still be current, and moves the slot to <paramref name="to"/>
    /// in the same CAS.
    /// </summary>
    /// <returns><see langword="false"/> if the lease had already ended (a second or stale return).</returns>
    public bool TryEndLease(long version, SlotState to)
    {
        long leased = Pack(version, SlotState.Leased);
        return Interlocked.CompareExchange(ref Word, Pack(version + 1, to), leased) == leased;
    }
}
