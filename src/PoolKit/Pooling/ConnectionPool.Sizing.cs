using System.Globalization;
using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>
/// Runtime control: resizing a live pool (<see cref="Resize"/>) and pausing hand-outs (<see cref="Pause"/>,
/// <see cref="Resume"/>).
/// </content>
/// <remarks>
/// <para><b>Where the sizes live.</b> The current sizes are <see cref="ConnectionPoolOptions.MinSize"/> and
/// <see cref="ConnectionPoolOptions.MaxSize"/> of the pool's private copy of its options (<see cref="_options"/>), so every
/// reader in the pool reads the current value with no change and no extra load. They are written only by
/// <see cref="Resize"/>, under <see cref="_sizeLock"/>, each write followed by a full fence; every reader reads them after
/// an interlocked or volatile operation (the capacity checks read <see cref="_live"/> first), so no reader can keep an
/// old value in a loop.</para>
/// <para><b>Growing.</b> The slot array starts at the configured MaxSize and grows (never shrinks) when MaxSize grows
/// beyond its length: a new array is filled with the old one's slots, published (<see cref="GrowSlots"/>), and only
/// then is the new MaxSize written, so capacity is never reserved without an index for it. A reserver that allocates
/// a never-used slot in the old array while it is being replaced publishes it in the new one as well
/// (<see cref="PublishSlot"/>): its write to the old array and its read of <see cref="_slots"/> are full fences, and so
/// are the grower's publication and its second copy, so at least one of the two sees the other (Dekker). PERF: the hot
/// path reads <see cref="_slots"/> exactly as before (an instance field, never a JIT constant); an array sized up front
/// to <see cref="ConnectionPoolOptions.MaxSizeLimit"/> would cost 512 KiB per pool for a rare operation.</para>
/// <para><b>Shrinking.</b> A resource is never taken from its lessee. Idle resources beyond MaxSize are destroyed at
/// once (<see cref="TrimIdleExcess"/>); every other one is destroyed when it is next made available
/// (<see cref="TryDestroyExcess"/>, run first by <see cref="MakeAvailable"/>: a return, a creation or a validation that
/// ends), instead of being handed out or kept. A destruction is claimed by a CAS on <see cref="_destroyingExcess"/> while
/// <c>live − destroyingExcess &gt; MaxSize</c>, so concurrent returns never destroy more than the excess; an excess destruction
/// uncounts itself only after its slot was freed (<c>live</c> first), so the excess is never over-estimated, and
/// looks at the idle slots once more when it ends, so an excess missed meanwhile is not left idle. Creations stop
/// while <c>live ≥ MaxSize</c>, as always.</para>
/// <para><b>Pausing.</b> While <see cref="_paused"/> is set nothing is handed out: the one place a resource is won from
/// the idle set (<see cref="TryTakeIdle"/>) finds nothing, a released resource is published idle instead of being
/// handed to a waiter (<see cref="MakeAvailable"/>, <see cref="AfterPublishIdleRaces"/>), and nobody creates for
/// waiters or for themselves. Acquirers queue and fail by their own deadline. <see cref="Resume"/> clears the flag
/// (interlocked: a full fence) and then hands idle resources to the waiters in FIFO order and starts creations for the
/// rest. A releaser that read the flag set published its slot idle with a CAS and then reads the flag again in
/// <see cref="AfterPublishIdleRaces"/>: either it sees the flag cleared and hands off itself, or <see cref="Resume"/>'s
/// clear came after that read, and so its scan after the clear sees the slot idle. An acquirer that read the flag set
/// enqueues and rescans: either its rescan sees the flag cleared, or <see cref="Resume"/>'s scan sees it queued.</para>
/// <para><b>Shared state.</b> <see cref="_paused"/>: Interlocked (writes), Volatile (reads). <see cref="_destroyingExcess"/>:
/// CAS/Interlocked; excess destructions claimed and not yet uncounted, so <c>live − destroyingExcess</c> is what will remain.
/// <see cref="_slots"/>: replaced only under <see cref="_sizeLock"/> by a larger array holding the same slots.</para>
/// </remarks>
public sealed partial class ConnectionPool<T>
{
    /// <summary>Serializes <see cref="Resize"/> (the size writes and the slot array's growth).</summary>
    private readonly object _sizeLock = new();

    /// <summary>1 while hand-outs are paused; Interlocked writes, Volatile reads.</summary>
    private int _paused;

    /// <summary>Destructions of excess resources (after a shrink) claimed and not yet uncounted; CAS/Interlocked.</summary>
    private int _destroyingExcess;

    /// <inheritdoc />
    public bool IsPaused => Volatile.Read(ref _paused) != 0;

    /// <inheritdoc />
    public void Resize(int minSize, int maxSize)
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        if (maxSize < 1 || maxSize > ConnectionPoolOptions.MaxSizeLimit)
        {
            throw new ArgumentOutOfRangeException(
                nameof(maxSize),
                maxSize,
                OptionErrors.Describe(nameof(ConnectionPoolOptions.MaxSize), maxSize, $"must be between 1 and {ConnectionPoolOptions.MaxSizeLimit.ToString(CultureInfo.InvariantCulture)} (ConnectionPoolOptions.MaxSizeLimit)"));
        }

        if (minSize < 0 || minSize > maxSize)
        {
            throw new ArgumentOutOfRangeException(
                nameof(minSize),
                minSize,
                OptionErrors.Describe(nameof(ConnectionPoolOptions.MinSize), minSize, $"must be between 0 and MaxSize ({maxSize.ToString(CultureInfo.InvariantCulture)})"));
        }

        int oldMax;
        lock (_sizeLock)
        {
            oldMax = _options.MaxSize;

            // Ordering: the array grows before the new MaxSize is visible, so capacity reserved under it has an index.
            GrowSlots(maxSize);

            // Ordering: whichever bound moves away from the other goes first, so MinSize <= MaxSize at every instant.
            if (maxSize >= _options.MaxSize)
            {
                _options.MaxSize = maxSize;
                _options.MinSize = minSize;
            }
            else
            {
                _options.MinSize = minSize;
                _options.MaxSize = maxSize;
            }

            Interlocked.MemoryBarrier();
        }

        _logger.PoolResized(Name, minSize, maxSize, oldMax);
        if (maxSize < oldMax)
        {
            TrimIdleExcess();
        }
        else if (maxSize > oldMax && _waiters.Count > 0)
        {
            // Waiters are served by new creations at once (none start while paused; Resume starts them).
            StartCreationsForWaiters();
        }

        if (Volatile.Read(ref _live) < minSize)
        {
            KickMaintenance();
        }
    }

    /// <inheritdoc />
    public void Pause()
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        if (Interlocked.Exchange(ref _paused, 1) == 0)
        {
            _logger.PoolPaused(Name);
        }
    }

    /// <inheritdoc />
    public void Resume()
    {
        if (IsDisposed)
        {
            ThrowHelper.ThrowDisposed(Name);
        }

        // Interlocked: a full fence, so the scan below cannot read the slots before the flag is cleared (see remarks).
        if (Interlocked.Exchange(ref _paused, 0) == 0)
        {
            return;
        }

        _logger.PoolResumed(Name, _waiters.Count);

        // The interval that spans the pause measures the pause, not the service: not a sample (ConnectionPool.Shedding.cs).
        _queueEstimate.Restart();

        // FIFO: idle resources to the longest waiters first, then creations for whoever is left.
        HandIdleToWaiters(_clock.Now);
        if (_waiters.Count > 0)
        {
            StartCreationsForWaiters();
        }
    }

    /// <summary>
    /// Destroys an owned slot's resource instead of making it available, if the pool holds more than MaxSize after a
    /// shrink. Called first by <see cref="MakeAvailable"/>.
    /// </summary>
    /// <returns><see langword="true"/> if the slot is being destroyed (it left the caller's hands).</returns>
    private bool TryDestroyExcess(Slot<T> slot)
    {
        if (!TryClaimExcess())
        {
            return false;
        }

        DestroyExcessOwned(slot, trimAfter: true);
        return true;
    }

    /// <summary>Claims one destruction of the excess: succeeds while <c>live − destroyingExcess &gt; MaxSize</c>.</summary>
    private bool TryClaimExcess()
    {
        int claimed = Volatile.Read(ref _destroyingExcess);
        while (Volatile.Read(ref _live) - claimed > _options.MaxSize)
        {
            int seen = Interlocked.CompareExchange(ref _destroyingExcess, claimed + 1, claimed);
            if (seen == claimed)
            {
                return true;
            }

            claimed = seen;
        }

        return false;
    }

    /// <summary>Destroys an owned slot's resource for a claimed excess, then uncounts the claim (after the slot was freed).</summary>
    private void DestroyExcessOwned(Slot<T> slot, bool trimAfter)
    {
        Task destroyed = DestroyOwned(slot, DestroyReason.Resized);
        if (destroyed.IsCompleted)
        {
            EndExcessDestruction(trimAfter);
        }
        else
        {
            _ = EndExcessDestructionAsync(destroyed);
        }
    }

    private async Task EndExcessDestructionAsync(Task destroyed)
    {
        await destroyed.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        EndExcessDestruction(trimAfter: true);
    }

    /// <summary>Uncounts an excess destruction; a return that came while it was counted may have kept an excess resource idle, so look once more.</summary>
    private void EndExcessDestruction(bool trimAfter)
    {
        int claimed = Interlocked.Decrement(ref _destroyingExcess);
        if (trimAfter && Volatile.Read(ref _live) - claimed > _options.MaxSize)
        {
            TrimIdleExcess();
        }
    }

    /// <summary>Destroys idle resources while the pool holds more than MaxSize (coldest slots first).</summary>
    private void TrimIdleExcess()
    {
        Slot<T>?[] slots = Volatile.Read(ref _slots);
        for (int i = Math.Min(Volatile.Read(ref _allocated), slots.Length) - 1; i >= 0; i--)
        {
            // The claim is taken only next to an idle slot, so a concurrent return is rarely refused one meanwhile.
            if (Volatile.Read(ref slots[i]) is not { CurrentState: SlotState.Idle } slot)
            {
                continue;
            }

            if (!TryClaimExcess())
            {
                return;
            }

            if (slot.TryTransition(SlotState.Idle, SlotState.Leased))
            {
                DestroyExcessOwned(slot, trimAfter: false);
            }
            else
            {
                EndExcessDestruction(trimAfter: false);
            }
        }
    }

    /// <summary>Grows the slot array to at least <paramref name="size"/> slots; under <see cref="_sizeLock"/>.</summary>
    private void GrowSlots(int size)
    {
        Slot<T>?[] old = _slots;
        if (size <= old.Length)
        {
            return;
        }

        var grown = new Slot<T>?[size];
        for (int i = 0; i < old.Length; i++)
        {
            grown[i] = Volatile.Read(ref old[i]);
        }

        // Interlocked: a full fence between the publication and the second copy (see PublishSlot).
        Interlocked.Exchange(ref _slots, grown);
        for (int i = 0; i < old.Length; i++)
        {
            if (Volatile.Read(ref old[i]) is { } slot)
            {
                Interlocked.CompareExchange(ref grown[i], slot, null);
            }
        }
    }

    /// <summary>
    /// Publishes a newly allocated slot at <paramref name="index"/> of the array the allocator read, and of every
    /// array that replaced it since (see "Growing" in the remarks).
    /// </summary>
    private void PublishSlot(Slot<T>?[] slots, int index, Slot<T> slot)
    {
        // Interlocked: a full fence between this write and the read of the current array below.
        Interlocked.Exchange(ref slots[index], slot);
        Slot<T>?[] current;
        while (!ReferenceEquals(current = Volatile.Read(ref _slots), slots))
        {
            Interlocked.Exchange(ref current[index], slot);
            slots = current;
        }
    }
}
