namespace PoolKit;

/// <summary>
/// The lifecycle of a pooled resource: how to create, check, reset and destroy it. The pool owns storage,
/// bounds and waiting; the policy owns everything that touches the resource itself.
/// </summary>
/// <typeparam name="T">The pooled resource type.</typeparam>
/// <remarks>
/// Implementations must be thread-safe: the pool calls them concurrently for different resources, never
/// concurrently for the same resource. <see cref="ResourcePolicy{T}"/> provides sensible defaults.
/// </remarks>
public interface IResourcePolicy<T>
    where T : class
{
    /// <summary>Creates a new, ready-to-use resource.</summary>
    /// <param name="cancellationToken">Signaled when <see cref="ConnectionPoolOptions.AcquireTimeout"/> has elapsed since the creation began (its own bound). A creation belongs to the pool, not to the acquirer that caused it: an acquirer that gives up does not cancel it, and the new resource goes to the next waiter or idle.</param>
    /// <returns>The new resource.</returns>
    ValueTask<T> CreateAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A cheap, synchronous check run every time a resource is handed out, on every path (to a scanning acquirer or
    /// to a waiter), for example "is the connection still open?". It must not do I/O.
    /// </summary>
    /// <param name="resource">The resource.</param>
    /// <returns><see langword="false"/> to destroy the resource instead of using it.</returns>
    bool IsUsable(T resource);

    /// <summary>
    /// A thorough check (for example, a round trip) run before handing out a resource that has been idle for
    /// longer than <see cref="ConnectionPoolOptions.ValidationBypassWindow"/>.
    /// </summary>
    /// <param name="resource">The resource.</param>
    /// <param name="cancellationToken">Signaled after <see cref="ConnectionPoolOptions.ValidationTimeout"/> or when the acquirer gives up.</param>
    /// <returns><see langword="false"/> (or an exception) to destroy the resource; the acquire then continues.</returns>
    ValueTask<bool> ValidateAsync(T resource, CancellationToken cancellationToken);

    /// <summary>
    /// Resets a returned resource so the next user does not see the previous user's state.
    /// </summary>
    /// <param name="resource">The resource.</param>
    /// <param name="cancellationToken">Signaled when <see cref="ConnectionPoolOptions.ResetTimeout"/> elapses (never by a caller who stops waiting in <see cref="IConnectionPool{T}.ReturnAsync"/>); a canceled reset destroys the resource, and one that ignores the token is abandoned shortly after.</param>
    /// <returns><see langword="false"/> (or an exception) to destroy the resource instead of keeping it.</returns>
    ValueTask<bool> ResetAsync(T resource, CancellationToken cancellationToken);

    /// <summary>
    /// A cheap, synchronous check run when a lease is returned, before the reset: did the lease holder close or dispose
    /// the resource itself (for example <c>await using var conn = lease.Resource;</c>)? Such a resource is destroyed
    /// instead of reset, and counted in <see cref="PoolDestroyedCounts.ClosedByCaller"/>, as with
    /// <see cref="PoolLease{T}.MarkClosedByCaller"/>. It must not do I/O; one that throws says "no".
    /// </summary>
    /// <param name="resource">The returned resource.</param>
    /// <returns><see langword="true"/> if the holder closed it. The default returns <see langword="false"/>.</returns>
    bool IsClosedByCaller(T resource) => false;

    /// <summary>
    /// Tells whether a creation error is one that retrying cannot fix (a wrong password, a database that does not
    /// exist): while the last creation failed that way, the pool holds no resource and its back-off runs, acquirers
    /// fail at once with a <see cref="ResourceCreationException"/> (the error as its inner exception) instead of
    /// waiting for the next attempt. One attempt per back-off interval still runs, so the pool recovers once the cause
    /// is fixed.
    /// </summary>
    /// <param name="exception">The error <see cref="CreateAsync"/> threw.</param>
    /// <returns><see langword="true"/> if retrying cannot fix it. The default returns <see langword="false"/>: every creation error is worth retrying.</returns>
    bool IsPermanentCreationError(Exception exception) => false;

    /// <summary>Releases the resource for good. Exceptions are logged and otherwise ignored.</summary>
    /// <param name="resource">The resource.</param>
    /// <returns>A task that completes when the resource is released.</returns>
    ValueTask DestroyAsync(T resource);
}
