namespace PoolKit.Internal;

/// <summary>How a wait in the <see cref="WaiterQueue{T}"/> ended.</summary>
internal enum WaitOutcome
{
    /// <summary>A returner handed its slot (in state Leased) directly to the waiter.</summary>
    HandedOff,

    /// <summary>Capacity may have freed up (a slot emptied, a creation finished, a back-off ended): look again.</summary>
    Recheck,

    /// <summary>The waiter itself found an idle slot after enqueueing; it needs validation before use.</summary>
    FoundStale,

    /// <summary>The waiter itself reserved a slot for creation after enqueueing.</summary>
    Reserved,

    /// <summary>The acquire timeout elapsed.</summary>
    TimedOut,

    /// <summary>The acquirer's token was canceled.</summary>
    Canceled,

    /// <summary>The pool was disposed.</summary>
    Disposed,
}
