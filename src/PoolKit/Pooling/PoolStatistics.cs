namespace PoolKit;

/// <summary>A snapshot of a pool's counts and running totals.</summary>
/// <param name="Idle">Resources ready to be handed out.</param>
/// <param name="Leased">Resources held by callers (or being validated or reset).</param>
/// <param name="Creating">Resources being created.</param>
/// <param name="Destroying">Resources being destroyed (still counted against <paramref name="MaxSize"/>).</param>
/// <param name="Waiting">Acquirers waiting for a resource.</param>
/// <param name="MinSize">The current minimum (the configured one, or the last <see cref="IConnectionPool{T}.Resize"/>).</param>
/// <param name="MaxSize">The current maximum (the configured one, or the last <see cref="IConnectionPool{T}.Resize"/>).</param>
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
    /// <summary>Gets the live resources: idle, leased, being created and being destroyed. Never above <see cref="MaxSize"/>, except after <see cref="IConnectionPool{T}.Resize"/> shrank it: then leased resources beyond it are destroyed as they come back.</summary>
    /// <remarks>A resource whose reset or destruction the pool abandoned (see <see cref="AbandonedRunning"/>) is no longer live: the pool freed its slot.</remarks>
    public int Live => Idle + Leased + Creating + Destroying;

    /// <summary>Gets how many of the <see cref="Leased"/> resources are returned and still being reset (or validated) asynchronously, or for an instant being handed from idle to a waiter: they are on their way, and the pool creates nothing because of them.</summary>
    public int Returning { get; init; }

    /// <summary>Gets the leases handed out since the pool started.</summary>
    public long TotalAcquires { get; init; }

    /// <summary>Gets the acquires that had to wait in the queue (whether they got a lease or not).</summary>
    public long TotalAcquiresWaited { get; init; }

    /// <summary>Gets whether hand-outs are paused (<see cref="IConnectionPool{T}.Pause"/>): acquirers queue until <see cref="IConnectionPool{T}.Resume"/> or their deadline.</summary>
    public bool IsPaused { get; init; }

    /// <summary>Gets the acquires that ended because the caller's token was canceled.</summary>
    public long TotalAcquiresCanceled { get; init; }

    /// <summary>Gets the acquires refused at once because the wait queue was full (<see cref="ConnectionPoolOptions.MaxWaiters"/>).</summary>
    public long TotalAcquiresRejected { get; init; }

    /// <summary>Gets the acquires shed at once because the pool estimated they would wait too long (<see cref="ConnectionPoolOptions.QueueTimeTarget"/>, <see cref="PoolExhaustedReason.Shed"/>).</summary>
    public long TotalAcquiresShed { get; init; }

    /// <summary>Gets the destroyed resources by reason; their sum is <see cref="TotalDestroyed"/> once every destruction has finished.</summary>
    public PoolDestroyedCounts DestroyedBy { get; init; }

    /// <summary>Gets the creations, resets, validations and destructions the pool gave up waiting for because they outlived their bound (<see cref="ConnectionPoolOptions.AcquireTimeout"/>, <see cref="ConnectionPoolOptions.ResetTimeout"/>, <see cref="ConnectionPoolOptions.ValidationTimeout"/>, <see cref="ConnectionPoolOptions.DestroyTimeout"/>). Their resources are not counted in <see cref="TotalDestroyed"/> until they were really destroyed.</summary>
    public long TotalAbandoned { get; init; }

    /// <summary>Gets the abandoned creations, resets, validations and destructions still running: resources that (may) still exist, outside <see cref="Live"/>. At most <see cref="MaxSize"/>: beyond that the pool waits for the work instead of abandoning it, so <c>Live + AbandonedRunning &lt;= 2 * MaxSize</c>.</summary>
    public int AbandonedRunning { get; init; }
}
