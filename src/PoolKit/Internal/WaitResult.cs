namespace PoolKit.Internal;

/// <summary>The result of a wait: an outcome and, for the outcomes that carry one, the slot the waiter now owns or the error it fails with.</summary>
/// <typeparam name="T">The pooled resource type.</typeparam>
internal readonly record struct WaitResult<T>(Slot<T>? Slot, WaitOutcome Outcome, Exception? Error = null)
    where T : class;
