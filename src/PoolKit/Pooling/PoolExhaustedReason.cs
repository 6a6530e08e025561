namespace PoolKit;

/// <summary>Why an acquire failed with <see cref="PoolExhaustedException"/>.</summary>
public enum PoolExhaustedReason
{
    /// <summary>No resource became available within <see cref="ConnectionPoolOptions.AcquireTimeout"/>.</summary>
    Timeout,

    /// <summary>The wait queue already held <see cref="ConnectionPoolOptions.MaxWaiters"/> acquirers.</summary>
    WaitQueueFull,

    /// <summary>
    /// Shed at once: by the pool's estimate (waiters ahead × the observed interval between two waiters served), the
    /// acquire would wait longer than <see cref="ConnectionPoolOptions.QueueTimeTarget"/> or than its deadline allows.
    /// Not worth retrying at once: the pool is overloaded.
    /// </summary>
    Shed,
}
