namespace PoolKit;

/// <summary>Thrown when a lease is returned to a pool it was not acquired from (or the default lease is returned).</summary>
public sealed class ForeignLeaseException : ArgumentException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="poolName">The pool the lease was returned to.</param>
    /// <param name="leasePoolName">The pool the lease came from, or <see langword="null"/> for the default lease.</param>
    public ForeignLeaseException(string poolName, string? leasePoolName)
        : base(
            leasePoolName is null
                ? $"The default (empty) lease cannot be returned to pool '{poolName}'."
                : $"This lease was acquired from pool '{leasePoolName}' and cannot be returned to pool '{poolName}'. Dispose the lease instead; it always returns to its own pool.",
            "lease")
    {
        PoolName = poolName;
        LeasePoolName = leasePoolName;
    }

    /// <summary>Gets the pool the lease was returned to.</summary>
    public string PoolName { get; }

    /// <summary>Gets the pool the lease came from, or <see langword="null"/> for the default lease.</summary>
    public string? LeasePoolName { get; }
}
