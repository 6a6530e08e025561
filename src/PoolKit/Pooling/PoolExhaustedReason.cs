namespace PoolKit;

/// <summary>Why an acquire failed with <see cref="PoolExhaustedException"/>.</summary>
public enum PoolExhaustedReason
{
    /// <summary>No resource became available within <see cref="ConnectionPoolOptions.AcquireTimeout"/>.</summary>
    Timeout,

    /// <summary>The wait queue already held <see cref="ConnectionPoolOptions.MaxWaiters"/> acquirers.</summary>
    WaitQueueFull,
}
