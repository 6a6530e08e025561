using PoolKit.Internal;

namespace PoolKit;

/// <summary>
/// Runs many independent units of work in parallel, each on a pooled connection inside its own transaction:
/// acquire, begin, run the caller's operation, commit (or roll back), return. Every item read ends in exactly
/// one state — committed, failed, unknown or not started — and the <see cref="BatchResult"/> says which.
/// </summary>
/// <typeparam name="TResource">The pooled connection type.</typeparam>
/// <typeparam name="TTransaction">The transaction type.</typeparam>
/// <remarks>
/// <para>Input is streamed: units are cut from the enumerable as workers free up, so memory stays bounded
/// however long the input. Parallelism defaults to what the pool can serve (MaxSize minus
/// <see cref="BatchRunnerOptions.ReservedConnections"/>) and is never allowed above it.</para>
/// <para>Transient errors (as the <see cref="ITransactionHandler{TResource, TTransaction}"/> classifies them)
/// run the whole unit again on a fresh connection, with exponential back-off and jitter, bounded per unit and
/// by a batch-wide budget. A commit whose outcome is unknown is never replayed unless the operation is declared
/// idempotent. A multi-item unit that fails for good is bisected so the good items still commit.
/// <see cref="PoolExhaustedException"/> is never treated as transient.</para>
/// <para>Cancellation stops reading input, rolls back the units in flight, and still returns the report.</para>
/// </remarks>
public sealed class ParallelBatchRunner<TResource, TTransaction>
    where TResource : class
{
    private readonly IConnectionPool<TResource> _pool;
    private readonly ITransactionHandler<TResource, TTransaction> _handler;
    private readonly BatchRunnerOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates a runner over a pool.</summary>
    /// <param name="pool">The pool the units take their connections from.</param>
    /// <param name="handler">The resource's transaction steps and error classification.</param>
    /// <param name="options">The settings; copied and validated here. Defaults when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for back-off, progress and timing; <see cref="TimeProvider.System"/> by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="pool"/> or <paramref name="handler"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid for this pool; the message lists every violation.</exception>
    public ParallelBatchRunner(
        IConnectionPool<TResource> pool,
        ITransactionHandler<TResource, TTransaction> handler,
        BatchRunnerOptions? options = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(handler);
        _pool = pool;
        _handler = handler;
        _options = options?.Clone() ?? new BatchRunnerOptions();
        _time = timeProvider ?? TimeProvider.System;

        int maxSize = pool.GetStatistics().MaxSize;
        IReadOnlyList<string> errors = _options.Validate(maxSize);
        if (errors.Count > 0)
        {
            throw new ArgumentException(OptionErrors.Format($"Invalid batch runner options for pool '{pool.Name}'", errors), nameof(options));
        }

        MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism ?? (maxSize - _options.ReservedConnections);
    }

    /// <summary>Gets how many units run at once.</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>Gets the handler that begins, commits and rolls back the units' transactions and classifies their errors.</summary>
    public ITransactionHandler<TResource, TTransaction> Handler => _handler;

    /// <summary>Gets a copy of the runner's options.</summary>
    public BatchRunnerOptions Options => _options.Clone();

    /// <summary>Runs <paramref name="operation"/> over every item of <paramref name="items"/>.</summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="operation">Writes one unit's items with the unit's connection and transaction. It must not commit or roll back.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress at <see cref="BatchRunnerOptions.ProgressInterval"/> and once at the end; optional. If it throws, the run stops and its exception is rethrown once the units in flight have settled (never on the timer thread).</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> or <paramref name="operation"/> is <see langword="null"/>.</exception>
    public Task<BatchResult> RunAsync<TItem>(
        IEnumerable<TItem> items,
        Func<BatchUnit<TResource, TTransaction, TItem>, CancellationToken, ValueTask> operation,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        return RunAsync(UnitSource.ToAsync(items), operation, keySelector, progress, cancellationToken);
    }

    /// <summary>Runs <paramref name="operation"/> over every item of an asynchronous stream.</summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="operation">Writes one unit's items with the unit's connection and transaction. It must not commit or roll back.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress at <see cref="BatchRunnerOptions.ProgressInterval"/> and once at the end; optional. If it throws, the run stops and its exception is rethrown once the units in flight have settled (never on the timer thread).</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> or <paramref name="operation"/> is <see langword="null"/>.</exception>
    public Task<BatchResult> RunAsync<TItem>(
        IAsyncEnumerable<TItem> items,
        Func<BatchUnit<TResource, TTransaction, TItem>, CancellationToken, ValueTask> operation,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(operation);
        return RunCoreAsync(items, operation, keySelector, progress, observer: null, cancellationToken);
    }

    /// <summary>Runs <paramref name="operation"/> over every item of <paramref name="items"/>, telling <paramref name="observer"/> about every unit as it commits.</summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="operation">Writes one unit's items with the unit's connection and transaction. It must not commit or roll back.</param>
    /// <param name="observer">Hears each unit's items right after they committed.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress at <see cref="BatchRunnerOptions.ProgressInterval"/> and once at the end; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/>, <paramref name="operation"/> or <paramref name="observer"/> is <see langword="null"/>.</exception>
    /// <remarks>An exception thrown by <paramref name="observer"/> or <paramref name="progress"/> stops the run and is rethrown once the units in flight have settled.</remarks>
    public Task<BatchResult> RunAsync<TItem>(
        IAsyncEnumerable<TItem> items,
        Func<BatchUnit<TResource, TTransaction, TItem>, CancellationToken, ValueTask> operation,
        IBatchCommitObserver<TItem> observer,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(observer);
        return RunCoreAsync(items, operation, keySelector, progress, observer, cancellationToken);
    }

    /// <summary>Runs <paramref name="operation"/> over every item of <paramref name="items"/>, telling <paramref name="observer"/> about every unit as it commits.</summary>
    /// <typeparam name="TItem">The item type.</typeparam>
    /// <param name="items">The input, read lazily.</param>
    /// <param name="operation">Writes one unit's items with the unit's connection and transaction. It must not commit or roll back.</param>
    /// <param name="observer">Hears each unit's items right after they committed.</param>
    /// <param name="keySelector">Gives an item's key for the failure report; optional.</param>
    /// <param name="progress">Receives progress at <see cref="BatchRunnerOptions.ProgressInterval"/> and once at the end; optional.</param>
    /// <param name="cancellationToken">Stops the batch; the report is still returned.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/>, <paramref name="operation"/> or <paramref name="observer"/> is <see langword="null"/>.</exception>
    /// <remarks>An exception thrown by <paramref name="observer"/> or <paramref name="progress"/> stops the run and is rethrown once the units in flight have settled.</remarks>
    public Task<BatchResult> RunAsync<TItem>(
        IEnumerable<TItem> items,
        Func<BatchUnit<TResource, TTransaction, TItem>, CancellationToken, ValueTask> operation,
        IBatchCommitObserver<TItem> observer,
        Func<TItem, object?>? keySelector = null,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        return RunAsync(UnitSource.ToAsync(items), operation, observer, keySelector, progress, cancellationToken);
    }

    private async Task<BatchResult> RunCoreAsync<TItem>(
        IAsyncEnumerable<TItem> items,
        Func<BatchUnit<TResource, TTransaction, TItem>, CancellationToken, ValueTask> operation,
        Func<TItem, object?>? keySelector,
        IProgress<BatchProgress>? progress,
        IBatchCommitObserver<TItem>? observer,
        CancellationToken cancellationToken)
    {
        using var run = new BatchRun<TResource, TTransaction, TItem>(_pool, _handler, _options, _time, operation, keySelector, progress, observer, MaxDegreeOfParallelism);
        return await run.RunAsync(items, cancellationToken).ConfigureAwait(false);
    }
}
