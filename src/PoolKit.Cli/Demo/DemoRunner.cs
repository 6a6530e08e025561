using Npgsql;
using PoolKit.Cli.Infrastructure;
using Spectre.Console;

namespace PoolKit.Cli.Demo;

/// <summary>
/// Runs <c>poolkit demo</c> on a server: creates the scratch table, inserts the same rows each way (the seed's
/// connection per insert on Npgsql's pool and on PoolKit's, PoolKit's batch runner with one insert per transaction,
/// the best hand-written chunked INSERT and the runner's chunked SQL and insert modes, one hand-written COPY stream and
/// the runner's COPY units, then a small sample without a pool) with a progress bar each, counts the server's sessions and the
/// table after each, and drops the table at the end, also when stopped.
/// </summary>
internal sealed class DemoRunner(DemoOptions options, IAnsiConsole console)
{
    /// <summary>Runs the demo.</summary>
    /// <param name="connectionString">The server's connection string.</param>
    /// <param name="cancellationToken">Stops the demo: the way running stops after its inserts in flight, the rest are skipped.</param>
    /// <returns>The report (also when stopped).</returns>
    /// <exception cref="NpgsqlException">The scratch table could not be created or counted.</exception>
    public async Task<DemoResult> RunAsync(string connectionString, CancellationToken cancellationToken)
    {
        List<IInsertStrategy> strategies =
        [
            new ConnectionPerInsert(DemoWay.NpgsqlPool, options.Parallelism),
            new ConnectionPerInsert(DemoWay.PoolKitPerInsert, options.Parallelism),
            new PooledInserts(DemoWay.PoolPerInsert, options.Parallelism, itemsPerTransaction: 1),
            new HandWrittenInserts(DemoWay.HandChunked, options.Parallelism, options.ChunkSize),
            new PooledInserts(DemoWay.PoolChunked, options.Parallelism, options.ChunkSize),
            new PooledInserts(DemoWay.PoolInsert, options.Parallelism, options.ChunkSize),
            new HandWrittenInserts(DemoWay.HandCopy, options.Parallelism, options.ChunkSize),

            // COPY units as large as the load allows with every worker busy, up to 10,000 rows.
            new PooledInserts(DemoWay.PoolCopy, options.Parallelism, Math.Clamp(options.Rows / options.Parallelism, 1, PooledInserts.CopyUnit)),
        ];
        if (options.NoPoolRows > 0)
        {
            strategies.Add(new ConnectionPerInsert(DemoWay.NoPool, options.Parallelism));
        }

        string runId = Guid.NewGuid().ToString("N")[..8];

        await using var admin = new NpgsqlConnection(ConnectionStrings.ForApplication(connectionString, $"poolkit demo {runId} admin"));
        await admin.OpenAsync(cancellationToken);
        SessionCounter sessions = await SessionCounter.CreateAsync(admin, cancellationToken);
        ScratchTable table = await ScratchTable.CreateAsync(admin, cancellationToken);
        List<DemoRunResult> runs = [];
        try
        {
            foreach (IInsertStrategy strategy in strategies)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    runs.Add(new DemoRunResult { Way = strategy.Way, Label = strategy.Label, Ran = false, RequestedRows = RowsFor(strategy) });
                    continue;
                }

                runs.Add(await RunOneAsync(strategy, table, sessions, connectionString, $"poolkit demo {runId} {strategy.Way}", cancellationToken));
            }
        }
        finally
        {
            await table.DropAsync();
        }

        return new DemoResult(runs, cancellationToken.IsCancellationRequested, options.Parallelism);
    }

    private int RowsFor(IInsertStrategy strategy) => strategy.Way == DemoWay.NoPool ? Math.Min(options.NoPoolRows, options.Rows) : options.Rows;

    private async Task<DemoRunResult> RunOneAsync(
        IInsertStrategy strategy,
        ScratchTable table,
        SessionCounter sessions,
        string connectionString,
        string applicationName,
        CancellationToken cancellationToken)
    {
        // The bookkeeping around the run is not cancelled: a stopped run is still counted and checked.
        await table.TruncateAsync(CancellationToken.None);
        long sessionsBefore = await sessions.ReadAsync(CancellationToken.None);
        int rowCount = RowsFor(strategy);
        var progress = new InsertProgress();
        string wayConnectionString = ConnectionStrings.ForApplication(connectionString, applicationName);

        InsertOutcome outcome = await console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                ProgressTask bar = context.AddTask(Markup.Escape(strategy.Label), maxValue: rowCount);
                Task<InsertOutcome> run = strategy.RunAsync(wayConnectionString, table, rowCount, progress, cancellationToken);
                while (!run.IsCompleted)
                {
                    bar.Value = progress.Committed;
                    await Task.WhenAny(run, Task.Delay(100, CancellationToken.None));
                }

                InsertOutcome done = await run;
                bar.Value = done.Committed;
                bar.StopTask();
                return done;
            });

        await sessions.WaitForExitAsync(applicationName, CancellationToken.None);
        long sessionsAfter = await sessions.ReadAsync(CancellationToken.None);
        (long rows, long distinct) = await table.CountAsync(CancellationToken.None);
        return new DemoRunResult
        {
            Way = strategy.Way,
            Label = strategy.Label,
            Ran = true,
            RequestedRows = rowCount,
            Committed = outcome.Committed,
            Unknown = outcome.Unknown,
            Elapsed = outcome.Elapsed,
            ConnectionsOpened = sessions.IsSupported ? sessionsAfter - sessionsBefore : outcome.ConnectionsOpened,
            ConnectionsFromServer = sessions.IsSupported,
            ClientConnectionsOpened = outcome.ConnectionsOpened,
            TableRows = rows,
            DistinctIds = distinct,
            Canceled = outcome.Canceled,
            Error = outcome.Error,
        };
    }
}
