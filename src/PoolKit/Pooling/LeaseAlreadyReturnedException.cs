namespace PoolKit;

/// <summary>Thrown when a lease is returned, or its resource used, after it was already returned.</summary>
public sealed class LeaseAlreadyReturnedException : ObjectDisposedException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="poolName">The name of the pool the lease came from.</param>
    public LeaseAlreadyReturnedException(string poolName)
        : base(nameof(PoolLease<object>), $"This lease from pool '{poolName}' was already returned; its resource may now belong to someone else. Keep one owner per lease and dispose it once.")
    {
        PoolName = poolName;
    }

    /// <summary>Gets the name of the pool the lease came from.</summary>
    public string PoolName { get; }
}
