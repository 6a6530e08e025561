namespace PoolKit;

/// <summary>How many resources a pool destroyed, by reason.</summary>
/// <param name="Broken">Marked broken by the lease holder (<see cref="PoolLease{T}.MarkBroken"/>).</param>
/// <param name="ClosedByCaller">Closed by the lease holder itself, as reported by an adapter (<see cref="PoolLease{T}.MarkClosedByCaller"/>) or found on return by the policy (<see cref="IResourcePolicy{T}.IsClosedByCaller"/>).</param>
/// <param name="Unusable">Failed the cheap usability check (<see cref="IResourcePolicy{T}.IsUsable"/>) when about to be handed out.</param>
/// <param name="ValidationFailed">Failed, threw or timed out in <see cref="IResourcePolicy{T}.ValidateAsync"/>.</param>
/// <param name="ResetFailed">Refused, threw or timed out in <see cref="IResourcePolicy{T}.ResetAsync"/>.</param>
/// <param name="Lifetime">Reached <see cref="ConnectionPoolOptions.MaxLifetime"/>.</param>
/// <param name="Idle">Idle longer than <see cref="ConnectionPoolOptions.IdleTimeout"/>.</param>
/// <param name="Cleared">Belonged to a generation before a <see cref="IConnectionPool{T}.ClearAsync"/>.</param>
/// <param name="PoolDisposed">Destroyed because the pool was disposed.</param>
public readonly record struct PoolDestroyedCounts(
    long Broken,
    long ClosedByCaller,
    long Unusable,
    long ValidationFailed,
    long ResetFailed,
    long Lifetime,
    long Idle,
    long Cleared,
    long PoolDisposed)
{
    /// <summary>Gets the resources destroyed because <see cref="IConnectionPool{T}.Resize"/> shrank the pool below its live count (idle ones at once, leased ones as they came back).</summary>
    public long Resized { get; init; }
}
