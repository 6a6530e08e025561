namespace PoolKit;

/// <summary>
/// A bounded pool of expensive resources (database connections, channels, sockets) that hands out
/// exclusive leases and takes them back.
/// </summary>
/// <typeparam name="T">The pooled resource type.</typeparam>
/// <remarks>
/// <para>A lease is returned by disposing it. The pool never holds more than
/// <see cref="ConnectionPoolOptions.MaxSize"/> live resources (idle, leased, being created or being
/// destroyed) at any instant.</para>
/// <para><b>Abandoned work.</b> A creation, validation, reset or destruction that ignores its cancellation beyond its
/// bound (<see cref="ConnectionPoolOptions.AcquireTimeout"/>, <see cref="ConnectionPoolOptions.ValidationTimeout"/>,
/// <see cref="ConnectionPoolOptions.ResetTimeout"/>, each plus a grace of a tenth of it, at most one second; or
/// <see cref="ConnectionPoolOptions.DestroyTimeout"/>) is abandoned: its slot is freed and its resource, if any, is
/// destroyed when the work finally ends. At most <see cref="ConnectionPoolOptions.MaxSize"/> abandoned operations run
/// at once; beyond that the pool waits for the work instead (its slot stays taken and callers wait). So the resources
/// that exist, live ones plus those held by abandoned work (<see cref="PoolStatistics.AbandonedRunning"/>), never
/// exceed twice <see cref="ConnectionPoolOptions.MaxSize"/>. Abandoned work is counted in
/// <see cref="PoolStatistics.TotalAbandoned"/> when it is abandoned, and its resource in
/// <see cref="PoolStatistics.TotalDestroyed"/> only once it was really destroyed.</para>
/// </remarks>
public interface IConnectionPool<T> : IAsyncDisposable, IDisposable
    where T : class
{
    /// <summary>Gets the pool's name, used in logs, metrics and error messages.</summary>
    string Name { get; }

    /// <summary>
    /// Acquires a resource: an idle one if there is one (completing synchronously); else, if nothing is on its way
    /// back (no reset in flight) and nobody waits, a new one it creates itself; else it queues (FIFO) and takes the
    /// first resource that reaches it, returned or newly created, waiting at most
    /// <see cref="ConnectionPoolOptions.AcquireTimeout"/>. The pool creates for waiters only when the resources
    /// being reset or created cannot serve them all.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the pool stays consistent, and a creation it caused goes on and ends idle.</param>
    /// <returns>A lease that must be disposed to return the resource.</returns>
    /// <exception cref="PoolExhaustedException">No resource became available within the acquire timeout, or the wait queue is full.</exception>
    /// <exception cref="ResourceCreationException">A creation failed and this caller was the one to report it (the longest waiter, or every waiter when nothing is left that could serve them); the original error is the inner exception, or is thrown as is to the first caller. During the back-off after a failure, callers wait for the next attempt instead of failing with the old error.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    ValueTask<PoolLease<T>> AcquireAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Acquires a resource exactly like <see cref="AcquireAsync(CancellationToken)"/>, but waits at most
    /// <paramref name="timeout"/> instead of <see cref="ConnectionPoolOptions.AcquireTimeout"/>: longer or shorter, for
    /// this call only. It fails the same way when the time is up (a <see cref="PoolExhaustedException"/> counted in
    /// <see cref="PoolStatistics.TotalTimeouts"/>, its message naming this timeout).
    /// </summary>
    /// <param name="timeout">How long this call may wait: positive, or <see cref="Timeout.InfiniteTimeSpan"/> to wait until a resource comes or <paramref name="cancellationToken"/> is canceled.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A lease that must be disposed to return the resource.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero, or negative and not <see cref="Timeout.InfiniteTimeSpan"/>.</exception>
    /// <exception cref="PoolExhaustedException">No resource became available within <paramref name="timeout"/>, or the wait queue is full.</exception>
    /// <exception cref="ResourceCreationException">As for <see cref="AcquireAsync(CancellationToken)"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    ValueTask<PoolLease<T>> AcquireAsync(TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>
    /// Acquires an idle resource without waiting and without creating one.
    /// </summary>
    /// <param name="lease">The lease when the method returns <see langword="true"/>; otherwise the default lease.</param>
    /// <returns><see langword="true"/> if an idle, usable resource was leased.</returns>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    bool TryAcquire(out PoolLease<T> lease);

    /// <summary>
    /// Returns a lease to the pool, strictly: unlike <see cref="PoolLease{T}.Dispose"/>, which is idempotent,
    /// this throws when the lease was already returned or belongs to another pool.
    /// </summary>
    /// <param name="lease">The lease to return.</param>
    /// <param name="cancellationToken">Cancels waiting for the resource's reset; the return itself always completes.</param>
    /// <returns>A task that completes when the resource has been reset and made available again.</returns>
    /// <exception cref="LeaseAlreadyReturnedException">The lease was already returned.</exception>
    /// <exception cref="ForeignLeaseException">The lease was acquired from another pool, or is the default lease.</exception>
    ValueTask ReturnAsync(PoolLease<T> lease, CancellationToken cancellationToken = default);

    /// <summary>
    /// Destroys every idle resource now and every leased one when it is returned; resources created after
    /// the call are kept.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for the idle resources' destruction.</param>
    /// <returns>A task that completes when the idle resources have been destroyed.</returns>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    ValueTask ClearAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes a snapshot of the pool's counts and totals.</summary>
    /// <returns>The snapshot; each count is read once, so the counts are consistent with one another only when the pool is quiet.</returns>
    PoolStatistics GetStatistics();

    /// <summary>Gets whether hand-outs are paused (<see cref="Pause"/>).</summary>
    bool IsPaused { get; }

    /// <summary>
    /// Changes <see cref="ConnectionPoolOptions.MinSize"/> and <see cref="ConnectionPoolOptions.MaxSize"/> of the live
    /// pool, safely under load. Growing: waiters are served by new creations at once. Shrinking below the live count:
    /// idle resources beyond the new maximum are destroyed at once and leased ones as they come back (never taken
    /// from their lessee), so live falls to the new maximum as leases end; nothing is created meanwhile. A minimum
    /// above the live count is warmed up to in the background.
    /// </summary>
    /// <param name="minSize">The new minimum: between 0 and <paramref name="maxSize"/>.</param>
    /// <param name="maxSize">The new maximum: between 1 and <see cref="ConnectionPoolOptions.MaxSizeLimit"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size breaks its rule; the message names the option, the value and the rule. Nothing was changed.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    void Resize(int minSize, int maxSize);

    /// <summary>
    /// Pauses hand-outs: from now on nothing is handed out and nothing is created for acquirers. Leases already out
    /// go on and come back as usual (idle); acquirers queue and wait, failing by their own deadline
    /// (<see cref="PoolExhaustedException"/>) or cancellation. Idempotent.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    void Pause();

    /// <summary>
    /// Resumes hand-outs after <see cref="Pause"/>: the waiters are served in arrival order, by idle resources first,
    /// then by new creations. Idempotent.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Justification = "Pause/Resume is the pair every pool and scheduler uses; Visual Basic calls it as [Resume].")]
    void Resume();
}
