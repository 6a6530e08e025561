namespace PoolKit.Internal;

/// <summary>How a wait in the <see cref="WaiterQueue{T}"/> ended.</summary>
internal enum WaitOutcome
{
    /// <summary>A resource (returned, created or found idle), ready for use (validated if it had been idle beyond the window), was handed to the waiter, its slot <c>Leased</c> and now owned by it.</summary>
    HandedOff,

    /// <summary>A creation failed and the waiter was the one to report it (see the pool's remarks on failures); <see cref="WaitResult{T}.Error"/> holds the error.</summary>
    CreationFailed,

    /// <summary>The acquire timeout elapsed.</summary>
    TimedOut,

    /// <summary>The acquirer's token was canceled.</summary>
    Canceled,

    /// <summary>The pool was disposed.</summary>
    Disposed,
}
