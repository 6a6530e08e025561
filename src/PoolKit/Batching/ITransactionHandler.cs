namespace PoolKit;

/// <summary>
/// The transaction steps of a resource, and how its errors are classified, so that the generic
/// <see cref="ParallelBatchRunner{TResource, TTransaction}"/> can run units of work on any kind of resource.
/// PoolKit.Npgsql provides one for <c>NpgsqlConnection</c>.
/// </summary>
/// <typeparam name="TResource">The pooled resource (a connection).</typeparam>
/// <typeparam name="TTransaction">The transaction type.</typeparam>
public interface ITransactionHandler<TResource, TTransaction>
    where TResource : class
{
    /// <summary>Begins a transaction on <paramref name="resource"/>.</summary>
    /// <param name="resource">The leased resource.</param>
    /// <param name="cancellationToken">Cancels the begin.</param>
    /// <returns>The transaction.</returns>
    ValueTask<TTransaction> BeginAsync(TResource resource, CancellationToken cancellationToken);

    /// <summary>Commits and then releases the transaction.</summary>
    /// <param name="transaction">The transaction.</param>
    /// <param name="cancellationToken">The runner passes <see cref="CancellationToken.None"/>: a commit that started is allowed to finish, so its outcome is known.</param>
    /// <returns>A task that completes when the commit is durable.</returns>
    ValueTask CommitAsync(TTransaction transaction, CancellationToken cancellationToken);

    /// <summary>
    /// Rolls back and then releases the transaction. Called after a failure; its own failures are ignored (the
    /// connection is then destroyed, which ends the transaction on the server).
    /// </summary>
    /// <param name="transaction">The transaction.</param>
    /// <param name="cancellationToken">
    /// The runner passes a token canceled after <see cref="BatchRunnerOptions.RollbackTimeout"/>: a rollback that
    /// hangs (a frozen server) is abandoned, and the connection destroyed rather than reused.
    /// </param>
    /// <returns>A task that completes when the transaction is rolled back.</returns>
    ValueTask RollbackAsync(TTransaction transaction, CancellationToken cancellationToken);

    /// <summary>
    /// Tells whether the caller's operation already committed <paramref name="transaction"/>: a handler whose
    /// operations send their <c>COMMIT</c> in the same round trip as their statements (PoolKit.Npgsql's built-in modes)
    /// says so here. The runner then counts the unit committed even if the run was canceled meanwhile, and still calls
    /// <see cref="CommitAsync"/>, which only releases the transaction.
    /// </summary>
    /// <param name="transaction">The transaction the operation ran in.</param>
    /// <returns><see langword="true"/> if the transaction is committed; by default <see langword="false"/>.</returns>
    bool IsCommitted(TTransaction transaction) => false;

    /// <summary>Classifies an error raised in <paramref name="phase"/>.</summary>
    /// <param name="exception">The error.</param>
    /// <param name="phase">Where it happened.</param>
    /// <returns>
    /// <see cref="BatchErrorKind.Transient"/> when the unit's work certainly did not commit and running it again may
    /// succeed; <see cref="BatchErrorKind.OutcomeUnknown"/> when the commit may or may not have happened;
    /// <see cref="BatchErrorKind.Permanent"/> otherwise.
    /// </returns>
    BatchErrorKind Classify(Exception exception, BatchPhase phase);

    /// <summary>Tells whether <paramref name="exception"/> left the connection unusable, so it is destroyed instead of returned.</summary>
    /// <param name="exception">The error.</param>
    /// <returns><see langword="true"/> if the connection must not be reused.</returns>
    bool IsConnectionBroken(Exception exception);
}
