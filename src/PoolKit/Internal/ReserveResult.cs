namespace PoolKit.Internal;

/// <summary>The result of trying to reserve a slot for a creation.</summary>
internal enum ReserveResult
{
    /// <summary>A slot is reserved (state Creating) and counted; the caller must create into it or abandon it.</summary>
    Reserved,

    /// <summary>Enough creations are already in flight for the demand the caller stated.</summary>
    NotNeeded,

    /// <summary>Every slot is in use.</summary>
    Full,

    /// <summary>MaxConcurrentCreations creations (one while creations keep failing) are already in flight.</summary>
    CreationLimit,

    /// <summary>Recent creations failed and the back-off has not ended.</summary>
    BackedOff,

    /// <summary>The number of creations in flight changed since the caller read it: read supply and demand again.</summary>
    Changed,
}
