using System.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <summary>
/// Exclusive use of one pooled resource until the lease is disposed. A small struct: acquiring and returning
/// allocate nothing.
/// </summary>
/// <typeparam name="T">The pooled resource type.</typeparam>
/// <remarks>
/// <para>Dispose the lease exactly once, typically with <c>await using</c>. Disposing is idempotent: a second
/// dispose, or disposing a copy of an already returned lease, does nothing (even if the resource has since
/// been leased to somebody else). <see cref="IConnectionPool{T}.ReturnAsync"/> is the strict alternative.</para>
/// <para>After the lease is returned, <see cref="Resource"/> throws <see cref="LeaseAlreadyReturnedException"/>, so
/// a resource cannot be used by two owners through this lease.</para>
/// </remarks>
[DebuggerDisplay("{DebuggerDisplay,nq}")]
public readonly struct PoolLease<T> : IDisposable, IAsyncDisposable, IEquatable<PoolLease<T>>
    where T : class
{
    // PERF: two fields (16 bytes; the pool is reached through the slot) instead of three (24): on x64 the lease is
    // returned in registers, and the ValueTask<PoolLease<T>> of AcquireAsync shrinks from 40 to 32 bytes. The
    // three-field lease cost about 10 ns per await AcquireAsync in store-forwarding stalls copying it.
    private readonly Slot<T>? _slot;
    private readonly long _version;

    internal PoolLease(Slot<T> slot, long version)
    {
        _slot = slot;
        _version = version;
    }

    /// <summary>Gets the leased resource.</summary>
    /// <exception cref="LeaseAlreadyReturnedException">The lease was already returned.</exception>
    /// <exception cref="InvalidOperationException">This is the default lease.</exception>
    public T Resource
    {
        get
        {
            Slot<T>? slot = _slot;
            if (slot is null)
            {
                ThrowHelper.ThrowDefaultLease();
            }

            if (slot.CurrentVersion != _version)
            {
                ThrowHelper.ThrowAlreadyReturned(slot.Pool.Name);
            }

            return slot.Resource!;
        }
    }

    /// <summary>Gets whether the lease holds its resource (it is not the default lease and was not returned).</summary>
    public bool IsActive => _slot is not null && _slot.CurrentVersion == _version;

    /// <summary>Gets the name of the pool the lease came from, or <see langword="null"/> for the default lease.</summary>
    public string? PoolName => _slot?.Pool.Name;

    internal ConnectionPool<T>? Pool => _slot?.Pool;

    internal Slot<T>? Slot => _slot;

    internal long Version => _version;

    private string DebuggerDisplay => _slot is null ? "default lease" : $"lease of slot {_slot.Index} in '{_slot.Pool.Name}'{(IsActive ? "" : " (returned)")}";

    /// <summary>
    /// Marks the resource as broken: on return it is destroyed instead of being reused (for example after an
    /// I/O error on a connection).
    /// </summary>
    /// <exception cref="LeaseAlreadyReturnedException">The lease was already returned.</exception>
    /// <exception cref="InvalidOperationException">This is the default lease.</exception>
    public void MarkBroken()
    {
        Slot<T>? slot = _slot;
        if (slot is null)
        {
            ThrowHelper.ThrowDefaultLease();
        }

        if (slot.CurrentVersion != _version)
        {
            ThrowHelper.ThrowAlreadyReturned(slot.Pool.Name);
        }

        slot.MarkedForDestruction = (int)DestroyReason.Broken + 1;
    }

    /// <summary>
    /// Tells the pool that the lease holder closed the resource itself (for example, an adapter whose caller closed or
    /// disposed the connection it was given): on return it is destroyed instead of being reused, and counted in
    /// <see cref="PoolDestroyedCounts.ClosedByCaller"/> rather than as broken. Meant for adapters; an application
    /// that found the resource faulty calls <see cref="MarkBroken"/>.
    /// </summary>
    /// <exception cref="LeaseAlreadyReturnedException">The lease was already returned.</exception>
    /// <exception cref="InvalidOperationException">This is the default lease.</exception>
    public void MarkClosedByCaller()
    {
        Slot<T>? slot = _slot;
        if (slot is null)
        {
            ThrowHelper.ThrowDefaultLease();
        }

        if (slot.CurrentVersion != _version)
        {
            ThrowHelper.ThrowAlreadyReturned(slot.Pool.Name);
        }

        slot.MarkedForDestruction = (int)DestroyReason.ClosedByCaller + 1;
    }

    /// <summary>
    /// Returns the resource to the pool. Idempotent. If the policy's reset is asynchronous it finishes in the
    /// background, and the resource is handed out again only after it; use <see cref="IConnectionPool{T}.ReturnAsync"/> to wait for it.
    /// </summary>
    public void Dispose()
    {
        Slot<T>? slot = _slot;
        if (slot is null)
        {
            return;
        }

        ValueTask pending = slot.Pool.Return(slot, _version, strict: false, CancellationToken.None);
        if (!pending.IsCompleted)
        {
            // The background part never faults (errors are logged and the resource destroyed).
            _ = pending.AsTask();
        }
    }

    /// <summary>
    /// Returns the resource to the pool, exactly like <see cref="Dispose"/>: it does not wait for an asynchronous
    /// reset, which gains the caller nothing (the resource is handed out again only once reset, and reset errors
    /// destroy the resource rather than surface here). Idempotent. Use <see cref="IConnectionPool{T}.ReturnAsync"/>
    /// to wait for the reset.
    /// </summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    /// <inheritdoc />
    public bool Equals(PoolLease<T> other) => ReferenceEquals(_slot, other._slot) && _version == other._version;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is PoolLease<T> other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_slot, _version);

    /// <summary>Tells whether two leases are the same lease of the same slot.</summary>
    /// <param name="left">A lease.</param>
    /// <param name="right">Another lease.</param>
    /// <returns><see langword="true"/> if they are equal.</returns>
    public static bool operator ==(PoolLease<T> left, PoolLease<T> right) => left.Equals(right);

    /// <summary>Tells whether two leases differ.</summary>
    /// <param name="left">A lease.</param>
    /// <param name="right">Another lease.</param>
    /// <returns><see langword="true"/> if they differ.</returns>
    public static bool operator !=(PoolLease<T> left, PoolLease<T> right) => !left.Equals(right);
}
