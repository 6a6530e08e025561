namespace PoolKit;

/// <summary>
/// Thrown when an acquire cannot get a resource in time, or cannot even wait because the wait queue is
/// full. The message is one stable text per condition (it names the pool and the setting to raise, so logs group by
/// it); the counts, the wait, the settings in force, the longest-held leases and the last creation error are in the
/// properties and <see cref="Exception.InnerException"/>.
/// </summary>
/// <remarks>
/// This is a capacity problem of the application, not a transient database error: retrying it blindly
/// adds load to a pool that is already saturated. It deliberately derives from
/// <see cref="InvalidOperationException"/> and not from <see cref="TimeoutException"/> or a database
/// exception type.
/// </remarks>
public sealed class PoolExhaustedException : InvalidOperationException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="poolName">The pool's name.</param>
    /// <param name="reason">Why the acquire failed.</param>
    /// <param name="waited">How long the acquirer waited.</param>
    /// <param name="statistics">The pool's counts when the acquire failed.</param>
    /// <param name="longestHeld">The longest-held leases, longest first.</param>
    /// <param name="lastCreationError">The last error seen while creating a resource, if recent (the inner exception).</param>
    /// <param name="acquireTimeout">The acquire timeout the acquire ran with.</param>
    /// <param name="maxWaiters">The configured wait-queue bound.</param>
    public PoolExhaustedException(
        string poolName,
        PoolExhaustedReason reason,
        TimeSpan waited,
        PoolStatistics statistics,
        IReadOnlyList<HeldLease> longestHeld,
        Exception? lastCreationError,
        TimeSpan acquireTimeout,
        int? maxWaiters)
        : base(BuildMessage(poolName, reason, statistics), lastCreationError)
    {
        PoolName = poolName;
        Reason = reason;
        Waited = waited;
        Statistics = statistics;
        LongestHeldLeases = longestHeld;
        AcquireTimeout = acquireTimeout;
        MaxWaiters = maxWaiters;
    }

    /// <summary>Initializes a shed acquire's exception.</summary>
    internal PoolExhaustedException(
        string poolName,
        TimeSpan waited,
        PoolStatistics statistics,
        TimeSpan acquireTimeout,
        int? maxWaiters,
        TimeSpan estimatedWait,
        bool byDeadline)
        : base(BuildShedMessage(poolName, byDeadline), null)
    {
        PoolName = poolName;
        Reason = PoolExhaustedReason.Shed;
        Waited = waited;
        Statistics = statistics;
        LongestHeldLeases = [];
        AcquireTimeout = acquireTimeout;
        MaxWaiters = maxWaiters;
        EstimatedWait = estimatedWait;
    }

    /// <summary>Gets the pool's name.</summary>
    public string PoolName { get; }

    /// <summary>Gets why the acquire failed.</summary>
    public PoolExhaustedReason Reason { get; }

    /// <summary>Gets how long the acquirer waited before giving up.</summary>
    public TimeSpan Waited { get; }

    /// <summary>Gets the pool's counts when the acquire failed.</summary>
    public PoolStatistics Statistics { get; }

    /// <summary>Gets the longest-held leases when the acquire failed, longest first (at most five); each says where it was acquired when <see cref="ConnectionPoolOptions.LeakDetectionThreshold"/> is set.</summary>
    public IReadOnlyList<HeldLease> LongestHeldLeases { get; }

    /// <summary>Gets the acquire timeout the failed acquire ran with (the pool's <see cref="ConnectionPoolOptions.AcquireTimeout"/>, or the acquire's own).</summary>
    public TimeSpan AcquireTimeout { get; }

    /// <summary>Gets the pool's <see cref="ConnectionPoolOptions.MaxWaiters"/> (<see langword="null"/>: unbounded).</summary>
    public int? MaxWaiters { get; }

    /// <summary>Gets, for a <see cref="PoolExhaustedReason.Shed"/> acquire, the wait the pool estimated for it (waiters ahead × the observed interval between two waiters served); otherwise <see langword="null"/>.</summary>
    public TimeSpan? EstimatedWait { get; }

    // One text per condition: nothing that varies from one failure to the next (counts, delays, error texts).
    private static string BuildMessage(string poolName, PoolExhaustedReason reason, PoolStatistics s) =>
        reason == PoolExhaustedReason.WaitQueueFull
            ? $"Pool '{poolName}' is exhausted and its wait queue is full (MaxWaiters): raise MaxWaiters or MaxSize, or shed load earlier."
            : s.IsPaused
                ? $"Pool '{poolName}' could not provide a resource within the acquire timeout: the pool is paused (Pause); nothing is handed out until Resume."
            : s.Live >= s.MaxSize
                ? $"Pool '{poolName}' could not provide a resource within the acquire timeout: all resources are in use. Raise MaxSize or AcquireTimeout, or return leases sooner (LongestHeldLeases says which are held; set LeakDetectionThreshold to see where they were acquired)."
                : $"Pool '{poolName}' could not provide a resource within the acquire timeout and could not create more in time: creations failed, were backing off, or were limited by MaxConcurrentCreations. The last creation error, if recent, is the inner exception.";

    private static string BuildShedMessage(string poolName, bool byDeadline) =>
        byDeadline
            ? $"Pool '{poolName}' shed this acquire at once instead of queueing it: by its estimate (EstimatedWait) it could not be served before the acquire's deadline. This attempt will not be served; retry later or elsewhere, add capacity (MaxSize), or give the acquire a longer timeout."
            : $"Pool '{poolName}' shed this acquire at once instead of queueing it: by its estimate (EstimatedWait) it would wait longer than QueueTimeTarget. This attempt will not be served; retry later or elsewhere, add capacity (MaxSize), or raise QueueTimeTarget.";
}
