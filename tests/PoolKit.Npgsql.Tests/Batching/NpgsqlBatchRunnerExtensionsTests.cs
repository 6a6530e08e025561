using Npgsql;
using NpgsqlTypes;
using PoolKit.Tests.Fixtures;
using Xunit.Abstractions;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Batching;

/// <summary>
/// The runner end to end on a real PostgreSQL: each test writes to its own table through its own pool (whose
/// application name is unique), and checks the table against the report.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlBatchRunnerExtensionsTests(PostgresServerFixture fixture, ITestOutputHelper output)
{
    private const string Sql = "sql";
    private const string Copy = "copy";
    private const string Insert = "insert";
    private const string InsertCopy = "insert-copy";
    private const int Parallelism = 8;

    /// <summary>A bound for a whole test's run, generous for a busy 2-core machine.</summary>
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(Sql, 1)]
    [InlineData(Sql, 1_000)]
    [InlineData(Copy, 1_000)]
    [InlineData(Insert, 1_000)]
    [InlineData(InsertCopy, 1_000)]
    public async Task Run_100000Items_EveryItemCommittedExactlyOnce(string mode, int itemsPerTransaction)
    {
        const int Count = 100_000;
        string app = AppName();
        string table = await CreateTableAsync();
        await using NpgsqlConnectionPool pool = CreatePool(app);
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions { ItemsPerTransaction = itemsPerTransaction });

        BatchResult result = await RunAsync(runner, mode, table, Rows(Count)).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(Count, result.Read);
        Assert.Equal(Count, result.Committed);
        Assert.Equal(0, result.Retries);
        Assert.Equal((Count, Count, Count, 0L, Count - 1L), await TableStatsAsync(table));
    }

    [Theory]
    [InlineData(Sql, 1)]
    [InlineData(Sql, 500)]
    [InlineData(Copy, 500)]
    [InlineData(Insert, 1)]
    [InlineData(Insert, 500)]
    [InlineData(InsertCopy, 500)]
    public async Task Run_PoisonItems_ExactlyThoseFailAndTheRestCommit(string mode, int itemsPerTransaction)
    {
        const int Count = 20_000;
        string app = AppName();
        string table = await CreateTableAsync();
        await using NpgsqlConnectionPool pool = CreatePool(app);
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions
        {
            ItemsPerTransaction = itemsPerTransaction,
            FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
        });

        // A negative payload violates the table's CHECK constraint; two poison items share a unit on purpose.
        HashSet<long> poison = [3, 4, 777, 5_000, 12_345, 19_998];
        IEnumerable<Row> rows = Rows(Count).Select(r => poison.Contains(r.Id) ? r with { Payload = -1 } : r);

        BatchResult result = await RunAsync(runner, mode, table, rows).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());

        Assert.Equal(Count, result.Read);
        Assert.Equal(Count - poison.Count, result.Committed);
        Assert.Equal(poison.Count, result.Failed);
        Assert.Equal(0, result.Unknown);
        Assert.Equal(0, result.Retries);
        Assert.Equal(poison.Order(), result.Failures.Select(static f => f.Index).Order());
        Assert.Equal(poison.Order(), result.Failures.Select(static f => (long)f.Key!).Order());
        Assert.All(result.Failures, static f =>
        {
            Assert.Equal(BatchItemOutcome.Failed, f.Outcome);
            Assert.Equal(PostgresErrorCodes.CheckViolation, Assert.IsType<PostgresException>(f.Exception).SqlState);
        });

        HashSet<long> ids = await IdsAsync(table);
        Assert.Equal(Count - poison.Count, ids.Count);
        Assert.Empty(ids.Intersect(poison));
        Assert.Equal((Count - poison.Count, Count - poison.Count, Count, 0L, Count - 1L), await TableStatsAsync(table));
    }

    [Fact]
    public async Task RunAsync_IdempotentSqlWithBackendsTerminatedMidRun_AllCommittedExactlyOnceAndRetriesCounted()
    {
        const int Count = 20_000;
        string app = AppName();
        string table = await CreateTableAsync();
        await using NpgsqlConnectionPool pool = CreatePool(app);
        var runner = pool.CreateBatchRunner(RetryingOptions(itemsPerTransaction: 50, idempotent: true));
        var progress = new RecordingProgress();
        using var done = new CancellationTokenSource();
        Task<int> killer = KillBackendsAsync(app, progress, Count, done.Token);

        // ON CONFLICT DO NOTHING makes a replay harmless, so a unit whose COMMIT was cut may be run again.
        // The input is paced (a few seconds in all) so the killer has time to strike several times.
        BatchResult result = await runner.RunAsync(
            PacedRowsAsync(Count, every: 25),
            $"INSERT INTO {table} (id, payload) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            Bind,
            static r => r.Id,
            progress).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());
        await done.CancelAsync();
        int kills = await killer.WaitAsync(Limit);
        output.WriteLine($"{kills} backends terminated; {result.Unknown} unknown");

        Assert.True(kills > 0, "no backend was terminated while the batch ran");
        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(Count, result.Committed);

        // A kill cut a running unit (retried) or an idle connection, which the pool destroys before handing it out
        // (the socket look of NpgsqlConnectionPolicy.IsUsable): either way it was met, and nothing failed.
        long caughtIdle = (await QuietStatisticsAsync(pool)).DestroyedBy.Unusable;
        Assert.True(result.Retries + caughtIdle > 0, $"{result}; {caughtIdle} dead idle connections destroyed before hand-out");
        Assert.Equal((Count, Count, Count, 0L, Count - 1L), await TableStatsAsync(table));
    }

    [Fact]
    public async Task RunCopyAsync_BackendsTerminatedMidRun_NoFailuresAndCommittedRowsExactlyOnce()
    {
        const int Count = 48_000;
        string app = AppName();
        string table = await CreateTableAsync();
        await using NpgsqlConnectionPool pool = CreatePool(app);
        BatchRunnerOptions options = RetryingOptions(itemsPerTransaction: 100, idempotent: false);

        // A kill that lands on a COMMIT in flight makes that unit Unknown, which is a failure: keep going so the
        // whole input is accounted for whatever the kills hit.
        options.FailurePolicy = BatchFailurePolicy.ContinueOnFailure;
        var runner = pool.CreateBatchRunner(options);
        var progress = new RecordingProgress();
        using var done = new CancellationTokenSource();
        Task<int> killer = KillBackendsAsync(app, progress, Count, done.Token);

        // The writer pauses every 5 rows, so each COPY stays open for a while and kills land in the middle of some.
        BatchResult result = await runner.RunCopyAsync(Rows(Count), CopyCommand(table), SlowWriteRowAsync, static r => r.Id, progress).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());
        await done.CancelAsync();
        int kills = await killer.WaitAsync(Limit);
        output.WriteLine($"{kills} backends terminated; {result.Unknown} unknown");

        // COPY cannot be replayed blindly: a unit whose COMMIT was cut is reported Unknown, and its rows are either
        // all in the table or none is. Everything else committed exactly once.
        Assert.True(kills > 0, "no backend was terminated while the batch ran");
        Assert.Equal(0, result.Failed);
        Assert.Equal(0, result.NotStarted);
        Assert.Equal(Count, result.Committed + result.Unknown);
        Assert.True(result.Retries > 0, result.ToString());
        HashSet<long> unknown = [.. result.Failures.Where(static f => f.Outcome == BatchItemOutcome.Unknown).Select(static f => f.Index)];
        Assert.Equal(result.Unknown, unknown.Count);
        HashSet<long> ids = await IdsAsync(table);
        Assert.All(Enumerable.Range(0, Count).Where(i => !unknown.Contains(i)), i => Assert.Contains((long)i, ids));
        (long count, long distinct, _, _, _) = await TableStatsAsync(table);
        Assert.Equal(count, distinct);
        Assert.InRange(count, result.Committed, Count);
    }

    /// <summary>
    /// Backends terminated three times while the insert mode runs (one statement per unit, or COPY): every unit is
    /// settled, none is left unknown (a kill during COMMIT is settled with the transaction id read before it), and the
    /// table holds every item exactly once.
    /// </summary>
    [Theory]
    [InlineData(Insert, 20)]
    [InlineData(InsertCopy, 100)]
    public async Task RunInsertAsync_BackendsTerminatedMidRun_NothingUnknownAndEveryItemCommittedExactlyOnce(string mode, int itemsPerTransaction)
    {
        const int Count = 20_000;
        string app = AppName() + mode;
        string table = await CreateTableAsync();
        await using NpgsqlConnectionPool pool = CreatePool(app);
        BatchRunnerOptions options = RetryingOptions(itemsPerTransaction, idempotent: false);
        options.FailurePolicy = BatchFailurePolicy.ContinueOnFailure;
        var runner = pool.CreateBatchRunner(options);
        var progress = new RecordingProgress();
        using var done = new CancellationTokenSource();
        Task<int> killer = KillBackendsAsync(app, progress, Count, done.Token);

        BatchResult result = await runner.RunInsertAsync(
            PacedRowsAsync(Count, every: 25),
            RowInsert(table, copyThreshold: mode == InsertCopy ? 1 : int.MaxValue),
            static r => r.Id,
            progress).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());
        await done.CancelAsync();
        int kills = await killer.WaitAsync(Limit);
        output.WriteLine($"{kills} backends terminated");

        Assert.True(kills > 0, "no backend was terminated while the batch ran");
        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(Count, result.Committed);
        Assert.Equal((Count, Count, Count, 0L, Count - 1L), await TableStatsAsync(table));
    }

    /// <summary>
    /// Units sent in one round trip that fail in a statement (a CHECK violation: the server skips the rest, COMMIT
    /// included) or in their COMMIT (a deferred UNIQUE violation: the server ends the transaction rolled back) are
    /// reported failed with the server's error, and their connections go back to the pool clean and are reused: no
    /// backend is left in a transaction and none was replaced (a COMMIT that failed is not rolled back again).
    /// </summary>
    [Fact]
    public async Task RunAsync_StatementOrCommitFails_FailedItemsReportedAndConnectionsReusedClean()
    {
        const int Count = 400;
        string app = AppName();
        string table = "bt_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync($"CREATE TABLE {table} (id bigint NOT NULL, payload int NOT NULL CHECK (payload >= 0), CONSTRAINT {table}_id UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)");
        await using NpgsqlConnectionPool pool = TestSupport.CreatePool(fixture.Server, app, o => o.MaxSize = 2, NpgsqlResetMode.RollbackOnly);
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions { ItemsPerTransaction = 1, FailurePolicy = BatchFailurePolicy.ContinueOnFailure });

        // Ids 10 and 20 come again at the end (their COMMIT fails); ids 50 and 60 carry a negative payload (their INSERT fails).
        IEnumerable<Row> rows = Rows(Count).Select(static r => r.Id is 50 or 60 ? r with { Payload = -1 } : r).Concat([new Row(10, 1), new Row(20, 1)]);
        BatchResult result = await runner.RunAsync(rows, InsertCommand(table), Bind, static r => r.Id).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());

        Assert.Equal(Count - 2, result.Committed);
        Assert.Equal(4, result.Failed);
        Assert.Equal(0, result.Retries);
        Assert.Equal(
            [(10L, PostgresErrorCodes.UniqueViolation), (20L, PostgresErrorCodes.UniqueViolation), (50L, PostgresErrorCodes.CheckViolation), (60L, PostgresErrorCodes.CheckViolation)],
            result.Failures.Select(static f => ((long)f.Key!, Assert.IsType<PostgresException>(f.Exception).SqlState)).Order());
        Assert.Equal((Count - 2L, Count - 2L, Count, 0L, Count - 1L), await TableStatsAsync(table));

        // What the server sees: the pool's sessions idle, never in a transaction, and no connection was replaced.
        await using NpgsqlConnection admin = await fixture.OpenConnectionAsync("poolkit-batch-setup");
        await using NpgsqlCommand states = new("SELECT coalesce(string_agg(state, ','), '') FROM pg_stat_activity WHERE application_name = $1", admin) { Parameters = { new() { Value = app } } };
        string seen = (string)(await states.ExecuteScalarAsync())!;
        Assert.All(seen.Split(','), static state => Assert.Equal("idle", state));
        Assert.InRange(pool.GetStatistics().TotalCreated, 1, 2);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public async Task RunAsync_ForcedSerializationFailures_RetriedAndCommittedExactlyOnce(int itemsPerTransaction)
    {
        const int Count = 10_000;
        const int Every = 500;
        string app = AppName();
        string table = await CreateTableAsync();
        string function = table + "_fail_once";

        // One sequence per marked id: nextval is not rolled back, so each marked id fails its first attempt only.
        await ExecuteAsync($"""
            DO $$ BEGIN
              FOR i IN 0..{(Count / Every) - 1} LOOP EXECUTE format('CREATE SEQUENCE %I', '{table}_s' || (i * {Every} + 7)); END LOOP;
            END $$;
            CREATE FUNCTION {function}(id bigint, payload int) RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
              IF id % {Every} = 7 AND nextval(quote_ident('{table}_s' || id)::regclass) = 1 THEN
                RAISE EXCEPTION 'forced serialization failure of item %', id USING ERRCODE = '40001';
              END IF;
              RETURN payload;
            END $$;
            """);
        await using NpgsqlConnectionPool pool = CreatePool(app);
        var runner = pool.CreateBatchRunner(RetryingOptions(itemsPerTransaction, idempotent: false));

        BatchResult result = await runner.RunAsync(
            Rows(Count),
            $"INSERT INTO {table} (id, payload) VALUES ($1, {function}($1, $2))",
            Bind).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());

        // A unit of 100 holds at most one marked id (they are 500 apart), so every marked id costs exactly one retry.
        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(Count, result.Committed);
        Assert.Equal(Count / Every, result.Retries);
        Assert.Equal((Count, Count, Count, 0L, Count - 1L), await TableStatsAsync(table));
    }

    [Theory]
    [InlineData(Sql)]
    [InlineData(Copy)]
    [InlineData(Insert)]
    public async Task Run_CanceledMidway_TableHoldsExactlyTheItemsReportedCommitted(string mode)
    {
        const int Count = 100_000;
        string app = AppName();
        string table = await CreateTableAsync();
        await using NpgsqlConnectionPool pool = CreatePool(app);
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions
        {
            ItemsPerTransaction = mode is Copy or Insert ? 200 : 50,
            ProgressInterval = TimeSpan.FromMilliseconds(10),
        });
        using var cancel = new CancellationTokenSource();
        var progress = new RecordingProgress(p =>
        {
            if (p.Committed >= 5_000)
            {
                cancel.Cancel();
            }
        });

        BatchResult result = await RunAsync(runner, mode, table, Rows(Count), progress, cancel.Token).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());

        Assert.True(result.Canceled, result.ToString());
        Assert.InRange(result.Committed, 5_000, Count - 1);
        Assert.Equal(0, result.Failed);
        Assert.Equal(0, result.Unknown);
        Assert.Equal(result.Read, result.Committed + result.NotStarted);
        (long count, long distinct, _, _, _) = await TableStatsAsync(table);
        Assert.Equal(result.Committed, count);
        Assert.Equal(count, distinct);
    }

    [Fact]
    public async Task RunAsync_Progress_NeverGoesBackwardsAndFinalReportEqualsTable()
    {
        const int Count = 40_000;
        string app = AppName();
        string table = await CreateTableAsync();
        await using NpgsqlConnectionPool pool = CreatePool(app);
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions
        {
            ItemsPerTransaction = 100,
            FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
            ProgressInterval = TimeSpan.FromMilliseconds(5),
        });
        var progress = new RecordingProgress();
        HashSet<long> poison = [10, 20_000, 39_999];
        IEnumerable<Row> rows = Rows(Count).Select(r => poison.Contains(r.Id) ? r with { Payload = -1 } : r);

        BatchResult result = await runner.RunAsync(rows, InsertCommand(table), Bind, progress: progress).WaitAsync(RunLimit);
        output.WriteLine(result.ToString());

        BatchProgress[] reports = progress.Reports;
        Assert.True(reports.Length >= 2, $"only {reports.Length} progress reports");
        for (int i = 1; i < reports.Length; i++)
        {
            Assert.True(reports[i].Committed >= reports[i - 1].Committed, $"committed went back at report {i}");
            Assert.True(reports[i].Failed >= reports[i - 1].Failed, $"failed went back at report {i}");
            Assert.True(reports[i].Unknown >= reports[i - 1].Unknown, $"unknown went back at report {i}");
            Assert.True(reports[i].Retried >= reports[i - 1].Retried, $"retried went back at report {i}");
            Assert.True(reports[i].InFlight >= 0);
        }

        BatchProgress last = reports[^1];
        (long count, _, _, _, _) = await TableStatsAsync(table);
        Assert.Equal(Count - poison.Count, count);
        Assert.Equal(count, result.Committed);
        Assert.Equal(result.Committed, last.Committed);
        Assert.Equal(poison.Count, last.Failed);
        Assert.Equal(result.Failed, last.Failed);
        Assert.Equal(0, last.InFlight);
    }

    [Fact]
    public async Task RunCopyAndInsert_IdempotentRunnerTextCopyOrBadInsert_RefusedUpFront()
    {
        await using NpgsqlConnectionPool pool = CreatePool(AppName());
        var idempotent = pool.CreateBatchRunner(new BatchRunnerOptions { IdempotentOperation = true });
        var plain = pool.CreateBatchRunner();

        // Thrown synchronously, before any connection is taken.
        ArgumentException refused = Assert.Throws<ArgumentException>(() => { _ = idempotent.RunCopyAsync(Rows(1), CopyCommand("t"), WriteRowAsync); });
        Assert.Contains("IdempotentOperation", refused.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => { _ = plain.RunCopyAsync(Rows(1), "COPY t (id, payload) FROM STDIN", WriteRowAsync); });
        Assert.Throws<ArgumentException>(() => { _ = plain.RunAsync(Rows(1), " ", Bind); });
        Assert.Contains("IdempotentOperation", Assert.Throws<ArgumentException>(() => { _ = idempotent.RunInsertAsync(Rows(1), RowInsert("t", 1)); }).Message, StringComparison.Ordinal);
        Assert.Contains("no columns", Assert.Throws<ArgumentException>(() => { _ = plain.RunInsertAsync(Rows(1), new NpgsqlRowInsert<Row>("t")); }).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new NpgsqlRowInsert<Row>("t").Column("id", static r => r.Id).Column("id", static r => r.Payload));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NpgsqlRowInsert<Row>("t") { CopyThreshold = 0 });
        Assert.Equal(0, pool.GetStatistics().Live);
    }

    private static IEnumerable<Row> Rows(int count)
    {
        for (int i = 0; i < count; i++)
        {
            yield return new Row(i, i % 1_000);
        }
    }

    private static async IAsyncEnumerable<Row> PacedRowsAsync(int count, int every)
    {
        foreach (Row row in Rows(count))
        {
            if (row.Id % every == 0)
            {
                await Task.Delay(1);
            }

            yield return row;
        }
    }

    private static BatchRunnerOptions RetryingOptions(int itemsPerTransaction, bool idempotent) => new()
    {
        ItemsPerTransaction = itemsPerTransaction,
        IdempotentOperation = idempotent,
        MaxRetriesPerUnit = 10,
        RetryBackoffInitial = TimeSpan.FromMilliseconds(5),
        RetryBackoffMax = TimeSpan.FromMilliseconds(100),
        ProgressInterval = TimeSpan.FromMilliseconds(10),
    };

    private static Task<BatchResult> RunAsync(
        ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner,
        string mode,
        string table,
        IEnumerable<Row> rows,
        IProgress<BatchProgress>? progress = null,
        CancellationToken cancellationToken = default) => mode switch
        {
            Sql => runner.RunAsync(rows, InsertCommand(table), Bind, static r => r.Id, progress, cancellationToken),
            Copy => runner.RunCopyAsync(rows, CopyCommand(table), WriteRowAsync, static r => r.Id, progress, cancellationToken),
            Insert => runner.RunInsertAsync(rows, RowInsert(table, copyThreshold: int.MaxValue), static r => r.Id, progress, cancellationToken),
            InsertCopy => runner.RunInsertAsync(rows, RowInsert(table, copyThreshold: 1), static r => r.Id, progress, cancellationToken),
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };

    private static NpgsqlRowInsert<Row> RowInsert(string table, int copyThreshold) =>
        new NpgsqlRowInsert<Row>(table) { CopyThreshold = copyThreshold }
            .Column("id", static r => r.Id)
            .Column("payload", static r => r.Payload);

    private static string InsertCommand(string table) => $"INSERT INTO {table} (id, payload) VALUES ($1, $2)";

    private static string CopyCommand(string table) => $"COPY {table} (id, payload) FROM STDIN (FORMAT BINARY)";

    private static void Bind(NpgsqlParameterCollection parameters, Row row)
    {
        parameters.Add(new NpgsqlParameter<long> { TypedValue = row.Id });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = row.Payload });
    }

    private static async ValueTask WriteRowAsync(NpgsqlBinaryImporter importer, Row row, CancellationToken cancellationToken)
    {
        await importer.WriteAsync(row.Id, NpgsqlDbType.Bigint, cancellationToken);
        await importer.WriteAsync(row.Payload, NpgsqlDbType.Integer, cancellationToken);
    }

    private static async ValueTask SlowWriteRowAsync(NpgsqlBinaryImporter importer, Row row, CancellationToken cancellationToken)
    {
        if (row.Id % 5 == 0)
        {
            await Task.Delay(1, cancellationToken);
        }

        await WriteRowAsync(importer, row, cancellationToken);
    }

    private NpgsqlConnectionPool CreatePool(string app) =>
        TestSupport.CreatePool(fixture.Server, app, o => o.MaxSize = Parallelism, NpgsqlResetMode.RollbackOnly);

    /// <summary>Terminates the pool's backends (and only those: by the test's own application name) three times, as the batch passes 15%, 40% and 65%.</summary>
    private async Task<int> KillBackendsAsync(string app, RecordingProgress progress, int count, CancellationToken cancellationToken)
    {
        int kills = 0;
        try
        {
            foreach (double share in (double[])[0.15, 0.40, 0.65])
            {
                while (progress.Committed < count * share)
                {
                    await Task.Delay(5, cancellationToken);
                }

                // Not canceled with the batch: a kill the server carried out must be counted even when the batch
                // ends while the count is on its way back. The call is bounded on its own.
                using var bound = new CancellationTokenSource(Limit);
                kills += await fixture.Server.TerminateBackendsAsync(app, bound.Token);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The batch ended first.
        }

        return kills;
    }

    private async Task<string> CreateTableAsync()
    {
        string table = "bt_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync($"CREATE TABLE {table} (id bigint PRIMARY KEY, payload int NOT NULL CHECK (payload >= 0))");
        return table;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using NpgsqlConnection connection = await fixture.OpenConnectionAsync("poolkit-batch-setup");
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync().WaitAsync(Limit);
    }

    /// <summary>count(*), count(DISTINCT id), max - min + 1, min, max (zeros for an empty table).</summary>
    private async Task<(long Count, long Distinct, long Span, long Min, long Max)> TableStatsAsync(string table)
    {
        await using NpgsqlConnection connection = await fixture.OpenConnectionAsync("poolkit-batch-check");
        await using var command = new NpgsqlCommand(
            $"SELECT count(*), count(DISTINCT id), coalesce(max(id) - min(id) + 1, 0), coalesce(min(id), 0), coalesce(max(id), 0) FROM {table}",
            connection);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync().WaitAsync(Limit);
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
    }

    private async Task<HashSet<long>> IdsAsync(string table)
    {
        await using NpgsqlConnection connection = await fixture.OpenConnectionAsync("poolkit-batch-check");
        await using var command = new NpgsqlCommand($"SELECT id FROM {table}", connection);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync().WaitAsync(Limit);
        var ids = new HashSet<long>();
        while (await reader.ReadAsync())
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    private readonly record struct Row(long Id, int Payload);

    /// <summary>Records every report synchronously, in order (unlike <see cref="Progress{T}"/>, which posts them).</summary>
    private sealed class RecordingProgress(Action<BatchProgress>? onReport = null) : IProgress<BatchProgress>
    {
        private readonly List<BatchProgress> _reports = [];
        private long _committed;

        public long Committed => Volatile.Read(ref _committed);

        public BatchProgress[] Reports
        {
            get
            {
                lock (_reports)
                {
                    return [.. _reports];
                }
            }
        }

        public void Report(BatchProgress value)
        {
            lock (_reports)
            {
                _reports.Add(value);
            }

            Volatile.Write(ref _committed, value.Committed);
            onReport?.Invoke(value);
        }
    }
}
