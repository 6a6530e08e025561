namespace PoolKit;

/// <summary>A snapshot of a pool's counts and running totals.</summary>
/// <param name="Idle">Resources ready to be handed out.</param>
/// <param name="Leased">Resources held by callers (or being validated or reset).</param>
/// <param name="Creating">Resources being created.</param>
/// <param name="Destroying">Resources being destroyed (still counted against <paramref name="MaxSize"/>).</param>
/// <param name="Waiting">Acquirers waiting for a resource.</param>
/// <param name="MinSize">The configured minimum.</param>
/// <param name="MaxSize">The configured maximum.</param>
/// <param name="TotalCreated">Resources created since the pool started.</param>
/// <param name="TotalDestroyed">Resources destroyed since the pool started.</param>
/// <param name="TotalCreationFailures">Failed creation attempts since the pool started.</param>
/// <param name="TotalTimeouts">Acquires that failed with <see cref="PoolExhaustedException"/> since the pool started.</param>
public readonly record struct PoolStatistics(
    int Idle,
    int Leased,
    int Creating,
    int Destroying,
    int Waiting,
    int MinSize,
    int MaxSize,
    long TotalCreated,
    long TotalDestroyed,
    long TotalCreationFailures,
    long TotalTimeouts)
{
    /// <summary>Gets the live resources: idle, leased, being created and being destroyed. Never above <see cref="MaxSize"/>.</summary>
    public int Live => Idle + Leased + Creating + Destroying;
}
