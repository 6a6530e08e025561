namespace PoolKit.Internal;

/// <summary>The result of <see cref="WaiterQueue{T}.RentAndEnqueue"/>.</summary>
internal enum EnqueueResult
{
    /// <summary>The waiter is queued.</summary>
    Enqueued,

    /// <summary>The queue already holds MaxWaiters acquirers.</summary>
    Full,

    /// <summary>The pool is disposed.</summary>
    Closed,
}
