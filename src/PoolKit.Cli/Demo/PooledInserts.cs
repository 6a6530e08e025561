using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PoolKit.Cli.Infrastructure;
using PoolKit.Npgsql;

namespace PoolKit.Cli.Demo;

/// <summary>
/// The seed's inserts through PoolKit: an <see cref="NpgsqlConnectionPool"/> of MaxSize = parallelism and
/// <see cref="ParallelBatchRunner{TResource, TTransaction}"/>, committing <see cref="ItemsPerTransaction"/> inserts
/// per transaction: per-item SQL (sent as one <c>NpgsqlBatch</c> with the unit's BEGIN and COMMIT), or the insert
/// mode (<see cref="DemoWay.PoolInsert"/>: one <c>unnest</c> statement per unit; <see cref="DemoWay.PoolCopy"/>: one
/// binary COPY per unit).
/// </summary>
/// <remarks>The pool runs with its default options (reset <see cref="NpgsqlResetMode.Discard"/>, queued with the next command).</remarks>
internal sealed class PooledInserts(DemoWay way, int parallelism, int itemsPerTransaction) : IInsertStrategy
{
    /// <summary>The runner's insert mode writes 10,000-row units with COPY (its threshold is 5,000).</summary>
    public const int CopyUnit = 10_000;

    /// <summary>Gets how many units run at once (and the pool's MaxSize).</summary>
    public int Parallelism { get; } = parallelism;

    /// <summary>Gets how many inserts each transaction commits.</summary>
    public int ItemsPerTransaction { get; } = itemsPerTransaction;

    /// <inheritdoc />
    public DemoWay Way { get; } = way;

    /// <inheritdoc />
    public string Label => Way switch
    {
        DemoWay.PoolCopy => string.Create(CultureInfo.InvariantCulture, $"PoolKit runner: {ItemsPerTransaction:N0} per tx (COPY)"),
        DemoWay.PoolInsert => string.Create(CultureInfo.InvariantCulture, $"PoolKit runner: {ItemsPerTransaction:N0} per tx (insert)"),
        _ when ItemsPerTransaction == 1 => "PoolKit runner: 1 per tx",
        _ => string.Create(CultureInfo.InvariantCulture, $"PoolKit runner: {ItemsPerTransaction:N0} per tx (SQL)"),
    };

    /// <inheritdoc />
    public async Task<InsertOutcome> RunAsync(string connectionString, ScratchTable table, int rows, InsertProgress progress, CancellationToken cancellationToken)
    {
        Stopwatch clock = Stopwatch.StartNew();
        var poolOptions = new ConnectionPoolOptions
        {
            Name = "poolkit-demo",
            MaxSize = Parallelism,
            AcquireTimeout = TimeSpan.FromSeconds(30),
        };
        NpgsqlConnectionPool pool = NpgsqlConnectionPool.Create(connectionString, poolOptions);
        BatchResult result;
        long created;
        try
        {
            ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner = pool.CreateBatchRunner(new BatchRunnerOptions
            {
                ItemsPerTransaction = ItemsPerTransaction,
                MaxDegreeOfParallelism = Parallelism,
                FailurePolicy = BatchFailurePolicy.StopOnFirstFailure,
                ProgressInterval = TimeSpan.FromMilliseconds(100),
            });
            IEnumerable<long> ids = Enumerable.Range(1, rows).Select(static i => (long)i);
            result = Way is DemoWay.PoolInsert or DemoWay.PoolCopy
                ? await runner.RunInsertAsync(ids, Way == DemoWay.PoolCopy ? table.CopyRows : table.Rows, keySelector: null, progress, cancellationToken)
                : await runner.RunAsync(ids, table.InsertSql, ScratchTable.Bind, keySelector: null, progress, cancellationToken);
            clock.Stop();
        }
        finally
        {
            // Closes every connection, so the server's session count is final once their backends exit.
            await pool.DisposeAsync();
        }

        // Read after the disposal: a creation still in flight at the end (one nobody needed any more) completes or
        // fails before the pool's disposal returns, and the server counts it too.
        created = pool.GetStatistics().TotalCreated;

        progress.Report(new BatchProgress(result.Committed, result.Failed, result.Unknown, result.Retries, 0, result.Elapsed, result.ItemsPerSecond));
        string? error = result.Failures.Count > 0 && result.Failures[0].Exception is { } ex
            ? ErrorMessages.Describe(ex, server: null)
            : null;
        return new InsertOutcome(result.Committed, result.Unknown, clock.Elapsed, created, result.Canceled, error);
    }
}
