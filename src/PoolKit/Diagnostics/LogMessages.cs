using Microsoft.Extensions.Logging;

namespace PoolKit.Diagnostics;

/// <summary>Every log line the pool writes; each carries the pool's name.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(PoolEventIds.PoolCreated, LogLevel.Information, "Pool '{PoolName}' created: MinSize {MinSize}, MaxSize {MaxSize}, AcquireTimeout {AcquireTimeout}.")]
    public static partial void PoolCreated(this ILogger logger, string poolName, int minSize, int maxSize, TimeSpan acquireTimeout);

    [LoggerMessage(PoolEventIds.ResourceCreated, LogLevel.Debug, "Pool '{PoolName}' created a resource in slot {Slot} in {ElapsedMs:0.0} ms.")]
    public static partial void ResourceCreated(this ILogger logger, string poolName, int slot, double elapsedMs);

    // The level is the caller's: Warning (with the error) when an outage starts or its error changes, Debug (without
    // the stack trace) for each further attempt that fails the same way.
    [LoggerMessage(EventId = PoolEventIds.CreationFailed, Message = "Pool '{PoolName}' failed to create a resource ({Failures} in a row): {ErrorKind}; next attempt in {DelayMs:0} ms.")]
    public static partial void CreationFailed(this ILogger logger, LogLevel level, string poolName, int failures, string errorKind, double delayMs, Exception? error);

    [LoggerMessage(PoolEventIds.CreationRecovered, LogLevel.Information, "Pool '{PoolName}' created a resource again after {Failures} failed attempts over {OutageMs:0} ms.")]
    public static partial void CreationRecovered(this ILogger logger, string poolName, int failures, double outageMs);

    [LoggerMessage(PoolEventIds.ResourceDestroyed, LogLevel.Debug, "Pool '{PoolName}' destroyed the resource in slot {Slot}: {Reason}.")]
    public static partial void ResourceDestroyed(this ILogger logger, string poolName, int slot, string reason);

    [LoggerMessage(PoolEventIds.DestroyFailed, LogLevel.Warning, "Pool '{PoolName}' failed to destroy the resource in slot {Slot}; it is dropped.")]
    public static partial void DestroyFailed(this ILogger logger, string poolName, int slot, Exception error);

    [LoggerMessage(PoolEventIds.ValidationFailed, LogLevel.Debug, "Pool '{PoolName}' validation rejected the resource in slot {Slot}.")]
    public static partial void ValidationFailed(this ILogger logger, string poolName, int slot, Exception? error);

    [LoggerMessage(PoolEventIds.ResetFailed, LogLevel.Debug, "Pool '{PoolName}' could not reset the resource in slot {Slot}; it is destroyed.")]
    public static partial void ResetFailed(this ILogger logger, string poolName, int slot, Exception? error);

    [LoggerMessage(PoolEventIds.PoolExhausted, LogLevel.Warning, "Pool '{PoolName}' exhausted ({Reason}): leased {Leased}, idle {Idle}, creating {Creating}, waiting {Waiting}, max {MaxSize}.")]
    public static partial void PoolExhausted(this ILogger logger, string poolName, PoolExhaustedReason reason, int leased, int idle, int creating, int waiting, int maxSize);

    [LoggerMessage(PoolEventIds.LeakSuspected, LogLevel.Warning, "Pool '{PoolName}': a lease of slot {Slot} has been held for {HeldMs:0} ms (LeakDetectionThreshold {ThresholdMs:0} ms). Acquired at: {AcquiredAt}")]
    public static partial void LeakSuspected(this ILogger logger, string poolName, int slot, double heldMs, double thresholdMs, string? acquiredAt);

    [LoggerMessage(PoolEventIds.PoolCleared, LogLevel.Information, "Pool '{PoolName}' cleared: {Destroyed} idle resources destroyed, leased ones will be destroyed on return.")]
    public static partial void PoolCleared(this ILogger logger, string poolName, int destroyed);

    [LoggerMessage(PoolEventIds.PoolDisposed, LogLevel.Information, "Pool '{PoolName}' disposed.")]
    public static partial void PoolDisposed(this ILogger logger, string poolName);

    [LoggerMessage(PoolEventIds.DisposeTimedOut, LogLevel.Warning, "Pool '{PoolName}' stopped waiting after {TimeoutMs:0} ms for {Outstanding} outstanding resources; they are destroyed when returned.")]
    public static partial void DisposeTimedOut(this ILogger logger, string poolName, double timeoutMs, int outstanding);

    [LoggerMessage(PoolEventIds.CheckAbandoned, LogLevel.Warning, "Pool '{PoolName}' abandoned the {Check} of the resource in slot {Slot}: it ignored its cancellation {BoundMs:0} ms after it started; the slot is freed and the resource destroyed when the {Check} ends.")]
    public static partial void CheckAbandoned(this ILogger logger, string poolName, int slot, string check, double boundMs);

    [LoggerMessage(PoolEventIds.DestroyAbandoned, LogLevel.Warning, "Pool '{PoolName}' stopped waiting for the destruction of the resource in slot {Slot} after {BoundMs:0} ms (DestroyTimeout); the slot is freed and the destruction goes on in the background.")]
    public static partial void DestroyAbandoned(this ILogger logger, string poolName, int slot, double boundMs);

    [LoggerMessage(PoolEventIds.MaintenanceFailed, LogLevel.Error, "Pool '{PoolName}' maintenance failed unexpectedly.")]
    public static partial void MaintenanceFailed(this ILogger logger, string poolName, Exception error);

    [LoggerMessage(PoolEventIds.PoolResized, LogLevel.Information, "Pool '{PoolName}' resized: MinSize {MinSize}, MaxSize {MaxSize} (was {OldMaxSize}).")]
    public static partial void PoolResized(this ILogger logger, string poolName, int minSize, int maxSize, int oldMaxSize);

    [LoggerMessage(PoolEventIds.PoolPaused, LogLevel.Information, "Pool '{PoolName}' paused: nothing is handed out until it is resumed; acquirers wait or fail by their deadline.")]
    public static partial void PoolPaused(this ILogger logger, string poolName);

    [LoggerMessage(PoolEventIds.PoolResumed, LogLevel.Information, "Pool '{PoolName}' resumed with {Waiting} acquirers waiting.")]
    public static partial void PoolResumed(this ILogger logger, string poolName, int waiting);
}
