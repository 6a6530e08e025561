using Npgsql;
using PoolKit.Npgsql.Internal;

namespace PoolKit.Npgsql;

/// <summary>
/// Runs batches of PostgreSQL writes on a pool of <see cref="NpgsqlConnection"/>s with
/// <see cref="ParallelBatchRunner{TResource, TTransaction}"/>: <see cref="CreateBatchRunner(IConnectionPool{NpgsqlConnection}, BatchRunnerOptions?, TimeProvider?)"/>
/// builds the runner, and two modes write the items of each unit of work in one go.
/// </summary>
/// <remarks>
/// <para><b>Per-item SQL</b> (<c>RunAsync(items, commandText, bindParameters)</c>): one command per item, a unit's
/// commands sent as a single <see cref="NpgsqlBatch"/> together with the unit's <c>BEGIN</c>, the record of its
/// transaction's id and its <c>COMMIT</c>: one round trip per unit of <see cref="BatchRunnerOptions.ItemsPerTransaction"/>
/// items, like one autocommitted statement.</para>
/// <para><b>Binary COPY</b> (<c>RunCopyAsync(items, copyCommand, writeRow)</c>): each unit is written with one
/// <c>COPY ... FROM STDIN (FORMAT BINARY)</c>, the fastest way to load rows.</para>
/// <para>Exactly once: every unit runs inside its own transaction and is committed by the runner, so a unit that
/// fails before its commit leaves nothing behind and can be run again safely. Only a connection lost <em>during</em>
/// COMMIT leaves a unit's outcome unknown; such items are reported as <see cref="BatchItemOutcome.Unknown"/> unless
/// <see cref="BatchRunnerOptions.IdempotentOperation"/> is set, which is right only for SQL that tolerates running twice
/// (for example <c>INSERT ... ON CONFLICT DO NOTHING</c>). COPY never tolerates it, so the COPY mode refuses it.</para>
/// </remarks>
public static class NpgsqlBatchRunnerExtensions
{
    /// <summary>Creates a batch runner over <paramref name="pool"/> that begins transactions at the server's default isolation level.</summary>
    /// <param name="pool">The pool the units take their connections from.</param>
    /// <param name="options">The runner's settings; copied and validated against the pool. Default: the defaults.</param>
    /// <param name="timeProvider">The clock for back-off, progress and timing. Default: <see cref="TimeProvider.System"/>.</param>
    /// <returns>The runner.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pool"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid for this pool; the message lists every violation.</exception>
    public static ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> CreateBatchRunner(
        this IConnectionPool<NpgsqlConnection> pool,
        BatchRunnerOptions? options = null,
        TimeProvider? timeProvider = null) =>
        new(pool, NpgsqlTransactionHandler.Default, options, timeProvider);

    /// <summary>Creates a batch runner over <paramref name="pool"/> with the given transaction handler (for example one with an isolation level).</summary>
    /// <param name="pool">The pool the units take their connections from.</param>
    /// <param name="handler">Begins, commits and rolls back the units' transactions and classifies their errors.</param>
    /// <param name="options">The runner's settings; copied and validated against the pool. Default: the defaults.</param>
    /// <param name="timeProvider">The clock for back-off, progress and timing. Default: <see cref="TimeProvider.System"/>.</param>
    /// <returns>The runner.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pool"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid for this pool; the message lists every violation.</exception>
    public static ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> CreateBatchRunner(
        this IConnectionPool<NpgsqlConnection> pool,
        NpgsqlTransactionHandler handler,
        BatchRunnerOptions? options = null,
        TimeProvider? timeProvider = null) =>
        new(pool, handler, options, timeProvider);

    /// <summary>
    /// Runs <paramref name="commandText"/> once per item, with parameters bound by <paramref name="bindParameters"/>;
    /// the commands of one unit go to the server as one <see cref="NpgsqlBatch"/>.
    /// </summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="runner">The runner.</param>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="commandText">The SQL run for each item, with positional (<c>$1</c>) or named (<c>@name</c>) parameters.</param>
    /// <param name="bindParameters">Adds one item's parameters to its command's (empty) parameter collection. Called again for each retry.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress reports; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="runner"/>, <paramref name="items"/> or <paramref name="bindParameters"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="commandText"/> is null or blank.</exception>
    public static Task<BatchResult> RunAsync<TItem>(
        this ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        IEnumerable<TItem> items,
        string commandText,
        Action<NpgsqlParameterCollection, TItem> bindParameters,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        NpgsqlCommandBatchOperation<TItem> operation = CommandOperation(runner, commandText, bindParameters);
        return runner.RunAsync(items, operation.ExecuteAsync, keySelector, progress, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="commandText"/> once per item of an asynchronous stream, with parameters bound by
    /// <paramref name="bindParameters"/>; the commands of one unit go to the server as one <see cref="NpgsqlBatch"/>.
    /// </summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="runner">The runner.</param>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="commandText">The SQL run for each item, with positional (<c>$1</c>) or named (<c>@name</c>) parameters.</param>
    /// <param name="bindParameters">Adds one item's parameters to its command's (empty) parameter collection. Called again for each retry.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress reports; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="runner"/>, <paramref name="items"/> or <paramref name="bindParameters"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="commandText"/> is null or blank.</exception>
    public static Task<BatchResult> RunAsync<TItem>(
        this ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        IAsyncEnumerable<TItem> items,
        string commandText,
        Action<NpgsqlParameterCollection, TItem> bindParameters,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        NpgsqlCommandBatchOperation<TItem> operation = CommandOperation(runner, commandText, bindParameters);
        return runner.RunAsync(items, operation.ExecuteAsync, keySelector, progress, cancellationToken);
    }

    /// <summary>
    /// Writes the items with binary COPY: each unit is one <paramref name="copyCommand"/> in its own transaction,
    /// each item one row written by <paramref name="writeRow"/>.
    /// </summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="runner">The runner. Its <see cref="BatchRunnerOptions.IdempotentOperation"/> must be <see langword="false"/>.</param>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="copyCommand">A binary COPY, for example <c>COPY items (id, name) FROM STDIN (FORMAT BINARY)</c>.</param>
    /// <param name="writeRow">Writes one item's columns, in the order of the COPY's column list, with the importer's <c>WriteAsync</c> (the row is already started).</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress reports; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="runner"/>, <paramref name="items"/> or <paramref name="writeRow"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="copyCommand"/> is not a binary <c>COPY ... FROM STDIN</c>, or the runner declares the operation
    /// idempotent (a replayed COPY would write its rows twice).
    /// </exception>
    public static Task<BatchResult> RunCopyAsync<TItem>(
        this ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        IEnumerable<TItem> items,
        string copyCommand,
        Func<NpgsqlBinaryImporter, TItem, CancellationToken, ValueTask> writeRow,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        NpgsqlCopyOperation<TItem> operation = CopyOperation(runner, copyCommand, writeRow);
        return runner.RunAsync(items, operation.ExecuteAsync, keySelector, progress, cancellationToken);
    }

    /// <summary>
    /// Writes the items of an asynchronous stream with binary COPY: each unit is one <paramref name="copyCommand"/>
    /// in its own transaction, each item one row written by <paramref name="writeRow"/>.
    /// </summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="runner">The runner. Its <see cref="BatchRunnerOptions.IdempotentOperation"/> must be <see langword="false"/>.</param>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="copyCommand">A binary COPY, for example <c>COPY items (id, name) FROM STDIN (FORMAT BINARY)</c>.</param>
    /// <param name="writeRow">Writes one item's columns, in the order of the COPY's column list, with the importer's <c>WriteAsync</c> (the row is already started).</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress reports; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="runner"/>, <paramref name="items"/> or <paramref name="writeRow"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="copyCommand"/> is not a binary <c>COPY ... FROM STDIN</c>, or the runner declares the operation
    /// idempotent (a replayed COPY would write its rows twice).
    /// </exception>
    public static Task<BatchResult> RunCopyAsync<TItem>(
        this ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        IAsyncEnumerable<TItem> items,
        string copyCommand,
        Func<NpgsqlBinaryImporter, TItem, CancellationToken, ValueTask> writeRow,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        NpgsqlCopyOperation<TItem> operation = CopyOperation(runner, copyCommand, writeRow);
        return runner.RunAsync(items, operation.ExecuteAsync, keySelector, progress, cancellationToken);
    }

    /// <summary>
    /// Writes the items as rows of one table, described once by <paramref name="insert"/>: each unit is one statement
    /// (<c>INSERT ... SELECT * FROM unnest(...)</c>, one array per column), or one binary <c>COPY</c> from
    /// <see cref="NpgsqlRowInsert{TItem}.CopyThreshold"/> items on, in its own transaction.
    /// </summary>
    /// <typeparam name="TItem">The item type; one item is one row.</typeparam>
    /// <param name="runner">The runner. Its <see cref="BatchRunnerOptions.IdempotentOperation"/> must be <see langword="false"/>.</param>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="insert">The table, its columns and how each value is read from an item.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress reports; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report: every item committed, failed (a poison row, found by bisecting its unit), unknown or not started.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="runner"/>, <paramref name="items"/> or <paramref name="insert"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="insert"/> has no columns, or the runner declares the operation idempotent (a replayed INSERT would write its rows twice).</exception>
    public static Task<BatchResult> RunInsertAsync<TItem>(
        this ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        IEnumerable<TItem> items,
        NpgsqlRowInsert<TItem> insert,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        NpgsqlInsertOperation<TItem> operation = InsertOperation(runner, insert);
        return runner.RunAsync(items, operation.ExecuteAsync, keySelector, progress, cancellationToken);
    }

    /// <summary>
    /// Writes the items of an asynchronous stream as rows of one table, described once by <paramref name="insert"/>
    /// (see the other overload).
    /// </summary>
    /// <typeparam name="TItem">The item type; one item is one row.</typeparam>
    /// <param name="runner">The runner. Its <see cref="BatchRunnerOptions.IdempotentOperation"/> must be <see langword="false"/>.</param>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="insert">The table, its columns and how each value is read from an item.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress reports; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report: every item committed, failed (a poison row, found by bisecting its unit), unknown or not started.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="runner"/>, <paramref name="items"/> or <paramref name="insert"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="insert"/> has no columns, or the runner declares the operation idempotent (a replayed INSERT would write its rows twice).</exception>
    public static Task<BatchResult> RunInsertAsync<TItem>(
        this ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        IAsyncEnumerable<TItem> items,
        NpgsqlRowInsert<TItem> insert,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        NpgsqlInsertOperation<TItem> operation = InsertOperation(runner, insert);
        return runner.RunAsync(items, operation.ExecuteAsync, keySelector, progress, cancellationToken);
    }

    private static NpgsqlInsertOperation<TItem> InsertOperation<TItem>(ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner, NpgsqlRowInsert<TItem> insert)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(insert);
        if (runner.Options.IdempotentOperation)
        {
            throw new ArgumentException(
                "The runner has IdempotentOperation = true, but an INSERT or COPY replayed after a commit whose outcome was unknown would write its rows twice. Use a runner with IdempotentOperation = false (such units are then reported as Unknown), or the per-item SQL mode with an idempotent statement.",
                nameof(runner));
        }

        return new NpgsqlInsertOperation<TItem>(insert, runner.Handler as NpgsqlTransactionHandler);
    }

    private static NpgsqlCommandBatchOperation<TItem> CommandOperation<TItem>(
        ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        string commandText,
        Action<NpgsqlParameterCollection, TItem> bindParameters)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentException.ThrowIfNullOrWhiteSpace(commandText);
        ArgumentNullException.ThrowIfNull(bindParameters);
        return new NpgsqlCommandBatchOperation<TItem>(commandText, bindParameters, runner.Handler as NpgsqlTransactionHandler);
    }

    private static NpgsqlCopyOperation<TItem> CopyOperation<TItem>(
        ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        string copyCommand,
        Func<NpgsqlBinaryImporter, TItem, CancellationToken, ValueTask> writeRow)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentException.ThrowIfNullOrWhiteSpace(copyCommand);
        ArgumentNullException.ThrowIfNull(writeRow);
        if (!NpgsqlCopyOperation<TItem>.IsBinaryCopyFromStdin(copyCommand))
        {
            throw new ArgumentException("The COPY mode needs a binary COPY from the client, such as 'COPY items (id, name) FROM STDIN (FORMAT BINARY)'.", nameof(copyCommand));
        }

        if (runner.Options.IdempotentOperation)
        {
            throw new ArgumentException(
                "The runner has IdempotentOperation = true, but a COPY replayed after a commit whose outcome was unknown would write its rows twice. Use a runner with IdempotentOperation = false (such units are then reported as Unknown), or the per-item SQL mode with an idempotent statement.",
                nameof(runner));
        }

        return new NpgsqlCopyOperation<TItem>(copyCommand, writeRow);
    }
}
