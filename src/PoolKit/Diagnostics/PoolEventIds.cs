namespace PoolKit;

/// <summary>The event ids of PoolKit's log messages, for filtering.</summary>
public static class PoolEventIds
{
    /// <summary>A pool was created (Information).</summary>
    public const int PoolCreated = 1000;

    /// <summary>A resource was created (Debug).</summary>
    public const int ResourceCreated = 1001;

    /// <summary>Creating a resource failed: Warning with the error when an outage starts or its error changes, Debug without a stack trace for each further attempt failing the same way.</summary>
    public const int CreationFailed = 1002;

    /// <summary>A resource was destroyed (Debug).</summary>
    public const int ResourceDestroyed = 1003;

    /// <summary>Destroying a resource threw (Warning).</summary>
    public const int DestroyFailed = 1004;

    /// <summary>Validation rejected an idle resource (Debug).</summary>
    public const int ValidationFailed = 1005;

    /// <summary>Resetting a returned resource failed or was refused (Debug).</summary>
    public const int ResetFailed = 1006;

    /// <summary>An acquire timed out or found the wait queue full (Warning).</summary>
    public const int PoolExhausted = 1007;

    /// <summary>A lease has been held longer than the leak-detection threshold (Warning).</summary>
    public const int LeakSuspected = 1008;

    /// <summary>The pool was cleared (Information).</summary>
    public const int PoolCleared = 1009;

    /// <summary>The pool was disposed (Information).</summary>
    public const int PoolDisposed = 1010;

    /// <summary>Disposal stopped waiting for outstanding leases (Warning).</summary>
    public const int DisposeTimedOut = 1011;

    /// <summary>The maintenance loop failed unexpectedly (Error).</summary>
    public const int MaintenanceFailed = 1012;

    /// <summary>Creation succeeded again after failures (Information).</summary>
    public const int CreationRecovered = 1013;

    /// <summary>A reset or validation ignored its cancellation and was abandoned (Warning).</summary>
    public const int CheckAbandoned = 1014;

    /// <summary>A destruction outlived DestroyTimeout and was abandoned (Warning).</summary>
    public const int DestroyAbandoned = 1015;

    /// <summary>The pool's MinSize/MaxSize were changed at run time (Information).</summary>
    public const int PoolResized = 1016;

    /// <summary>Hand-outs were paused (Information).</summary>
    public const int PoolPaused = 1017;

    /// <summary>Hand-outs were resumed (Information).</summary>
    public const int PoolResumed = 1018;
}
