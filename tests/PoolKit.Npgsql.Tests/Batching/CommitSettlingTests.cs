using System.Diagnostics;
using Npgsql;
using PoolKit.Npgsql.Tests.Faults;
using PoolKit.Testing;
using Xunit.Abstractions;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Batching;

/// <summary>
/// Commits interrupted by a real server restart: held in <c>COMMIT</c> on purpose (waiting for a synchronous standby
/// that does not exist, so they are committed locally; or in a slow deferred trigger, so they are not), then the
/// server restarts. Every item is checked against the rows.
/// </summary>
public sealed class CommitSettlingTests(DedicatedServerFixture fixture, ITestOutputHelper output) : IClassFixture<DedicatedServerFixture>
{
    private const int Units = 8;
    private const int PerUnit = 10;
    private const int Parallelism = 4;

    private PostgresTestServer Server => fixture.Server;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_RestartWhileCommitsWaitForASynchronousStandby_SettledCommittedExactlyOnce(bool settle)
    {
        string app = AppName();
        string table = await CreateTableAsync(slowCommitTrigger: false);
        await ExecuteAsync("ALTER SYSTEM SET synchronous_commit = on; ALTER SYSTEM SET synchronous_standby_names = 'poolkit_nobody'; SELECT pg_reload_conf()");
        BatchResult result;
        try
        {
            result = await RunWithRestartWhileAsync(app, table, settle, "SyncRep", async () =>
                await ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names; ALTER SYSTEM RESET synchronous_commit; SELECT pg_reload_conf()"));
        }
        finally
        {
            await Server.StartAgainAsync().WaitAsync(Limit);
            await ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names; ALTER SYSTEM RESET synchronous_commit; SELECT pg_reload_conf()");
        }

        output.WriteLine($"settle={settle}: {result}");
        Dictionary<long, long> rows = await RowsByKeyAsync(table);

        // The commits were durable locally before the wait: every item is in the table exactly once either way.
        Assert.Equal(Units * PerUnit, rows.Count);
        Assert.All(rows, r => Assert.Equal(1L, r.Value));
        Assert.Equal(0, result.Failed);
        if (settle)
        {
            Assert.Equal(Units * PerUnit, result.Committed);
            Assert.Equal(0, result.Unknown);
        }
        else
        {
            // Without settling, the units caught in COMMIT are reported Unknown although the server knows they committed.
            Assert.Equal(Parallelism * PerUnit, result.Unknown);
            Assert.All(result.Failures, f => Assert.Equal(BatchItemOutcome.Unknown, f.Outcome));
        }
    }

    [Fact]
    public async Task Run_RestartWhileCommitsRunASlowDeferredTrigger_SettledRolledBackRunAgainAndCommittedExactlyOnce()
    {
        string app = AppName();
        string table = await CreateTableAsync(slowCommitTrigger: true);
        BatchResult result;
        try
        {
            result = await RunWithRestartWhileAsync(app, table, settle: true, "PgSleep", async () => await ExecuteAsync($"DELETE FROM {table}_slow"));
        }
        finally
        {
            await Server.StartAgainAsync().WaitAsync(Limit);
        }

        output.WriteLine(result.ToString());
        Dictionary<long, long> rows = await RowsByKeyAsync(table);
        Assert.Equal(Units * PerUnit, result.Committed);
        Assert.Equal(0, result.Unknown);
        Assert.Equal(0, result.Failed);
        Assert.True(result.Retries >= Parallelism, $"the {Parallelism} units rolled back by the restart must have run again; retries {result.Retries}");
        Assert.Equal(Units * PerUnit, rows.Count);
        Assert.All(rows, r => Assert.Equal(1L, r.Value));
    }

    /// <summary>
    /// Backends killed (<c>pg_terminate_backend</c>) while their COMMIT waits for a synchronous standby (committed
    /// locally): the server survives, so every unit of the per-item SQL mode (BEGIN, the record of the transaction's
    /// id, the statements and COMMIT in one round trip) is settled committed, and none is run again.
    /// </summary>
    [Fact]
    public async Task Run_BackendsKilledWhileCommitsWaitForASynchronousStandby_SettledCommittedAndNeverRunTwice()
    {
        string app = AppName();
        string table = await CreateTableAsync(slowCommitTrigger: false);
        await ExecuteAsync("ALTER SYSTEM SET synchronous_commit = on; ALTER SYSTEM SET synchronous_standby_names = 'poolkit_nobody'; SELECT pg_reload_conf()");
        System.Collections.Concurrent.ConcurrentDictionary<long, int> runs = new();
        BatchResult result;
        try
        {
            await using NpgsqlConnectionPool pool = CreatePool(Server, app, o => o.MaxSize = Parallelism);
            var runner = pool.CreateBatchRunner(new BatchRunnerOptions
            {
                ItemsPerTransaction = PerUnit,
                MaxDegreeOfParallelism = Parallelism,
                FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
                RetryBackoffInitial = TimeSpan.FromMilliseconds(50),
                MaxRetriesPerUnit = 20,
            });
            Task<BatchResult> run = runner.RunAsync(
                Enumerable.Range(0, Units * PerUnit).Select(i => (long)i),
                $"INSERT INTO {table} (id) VALUES ($1)",
                (p, id) =>
                {
                    if (id % PerUnit == 0)
                    {
                        runs.AddOrUpdate(id, 1, static (_, n) => n + 1);
                    }

                    p.Add(new NpgsqlParameter<long> { TypedValue = id });
                });

            await WaitUntilAsync(async () => await WaitingAsync(app, "SyncRep") == Parallelism || run.IsCompleted, TimeSpan.FromSeconds(20), $"{Parallelism} commits wait on SyncRep");
            Assert.False(run.IsCompleted, "the run ended before its commits were held");
            Assert.Equal(Parallelism, await Server.TerminateBackendsAsync(app));
            await ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names; ALTER SYSTEM RESET synchronous_commit; SELECT pg_reload_conf()");
            result = await run.WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            await ExecuteAsync("ALTER SYSTEM RESET synchronous_standby_names; ALTER SYSTEM RESET synchronous_commit; SELECT pg_reload_conf()");
        }

        output.WriteLine(result.ToString());
        Assert.Equal(Units * PerUnit, result.Committed);
        Assert.Equal(0, result.Unknown);
        Assert.Equal(0, result.Failed);
        Assert.Equal(0, result.Retries);
        Assert.Equal(Units, runs.Count);
        Assert.All(runs, r => Assert.Equal(1, r.Value));
        Dictionary<long, long> rows = await RowsByKeyAsync(table);
        Assert.Equal(Units * PerUnit, rows.Count);
        Assert.All(rows, r => Assert.Equal(1L, r.Value));
    }

    /// <summary>
    /// A unit sent whole (BEGIN, record, INSERT, COMMIT) to a server that stopped answering: the client's command
    /// timeout ends the connection before the record arrives, but the server still holds the unit and may run it when
    /// it resumes, so the unit is Unknown, never run again (a lost connection is read as "COMMIT never ran" only when
    /// the server itself ended the session with a FATAL error).
    /// </summary>
    [Fact]
    public async Task Run_ClientTimesOutBeforeTheRecordArrives_UnknownAndNotRunAgain()
    {
        string app = AppName();
        string table = await CreateTableAsync(slowCommitTrigger: false);
        // Timeout (the connect timeout) bounds Npgsql's cancel request: on the command timeout it opens a connection to
        // send the cancel, and the frozen postmaster never answers it; with the default 15 s it waits 15 s for the GSS
        // encryption answer, then 15 s more without GSS (31 s per run, seen in Npgsql's log). CancellationTimeout does
        // not bound that connect.
        var connectionString = new NpgsqlConnectionStringBuilder(Server.GetConnectionString(app)) { CommandTimeout = 1, CancellationTimeout = 500, Timeout = 2 };
        await using NpgsqlConnectionPool pool = NpgsqlConnectionPool.Create(connectionString.ConnectionString, new ConnectionPoolOptions { Name = app, MaxSize = 1 }, NpgsqlResetMode.RollbackOnly);
        await UseOnceAsync(pool);
        var runner = pool.CreateBatchRunner(
            new NpgsqlTransactionHandler(System.Data.IsolationLevel.Unspecified, TimeSpan.FromSeconds(1)),
            new BatchRunnerOptions { ItemsPerTransaction = 1, MaxDegreeOfParallelism = 1, FailurePolicy = BatchFailurePolicy.ContinueOnFailure, MaxRetriesPerUnit = 3, RetryBackoffInitial = TimeSpan.FromMilliseconds(10), RollbackTimeout = TimeSpan.FromSeconds(1) });
        string sql = $"INSERT INTO {table} (id) VALUES ($1)";

        // A first unit prepares the unit's statements on the pool's one connection, so the frozen server is sent the
        // whole unit at once (a first unit's prepare round trip would time out before the COMMIT was sent: transient).
        Assert.Equal(1, (await runner.RunAsync([0L], sql, static (p, id) => p.Add(new NpgsqlParameter<long> { TypedValue = id }))).Committed);
        BatchResult result;
        await Server.FreezeAsync();
        try
        {
            Stopwatch frozen = Stopwatch.StartNew();
            result = await runner.RunAsync([1L], sql, static (p, id) => p.Add(new NpgsqlParameter<long> { TypedValue = id })).WaitAsync(TimeSpan.FromSeconds(60));
            output.WriteLine($"ended {frozen.ElapsedMilliseconds} ms after the freeze");
            Assert.InRange(frozen.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(15));
        }
        finally
        {
            await Server.ThawAsync();
        }

        output.WriteLine(result.ToString());
        Assert.Equal(1, result.Unknown);
        Assert.Equal(0, result.Retries);
        Assert.Equal(BatchItemOutcome.Unknown, Assert.Single(result.Failures).Outcome);
        Assert.InRange((await RowsByKeyAsync(table)).GetValueOrDefault(1L), 0, 1);
    }

    /// <summary>Runs the batch; when every worker's COMMIT waits on <paramref name="waitEvent"/>, restarts the server, then runs <paramref name="afterRestart"/>.</summary>
    private async Task<BatchResult> RunWithRestartWhileAsync(string app, string table, bool settle, string waitEvent, Func<Task> afterRestart)
    {
        await using NpgsqlConnectionPool pool = CreatePool(Server, app, o =>
        {
            o.MaxSize = Parallelism;
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(50);
            o.CreationBackoffMax = TimeSpan.FromMilliseconds(300);
        });
        NpgsqlTransactionHandler handler = new(System.Data.IsolationLevel.Unspecified, settle ? TimeSpan.FromSeconds(20) : TimeSpan.Zero);
        var runner = pool.CreateBatchRunner(handler, new BatchRunnerOptions
        {
            ItemsPerTransaction = PerUnit,
            MaxDegreeOfParallelism = Parallelism,
            FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
            RetryBackoffInitial = TimeSpan.FromMilliseconds(50),
            MaxRetriesPerUnit = 20,
        });
        Task<BatchResult> run = runner.RunAsync(
            Enumerable.Range(0, Units * PerUnit).Select(i => (long)i),
            $"INSERT INTO {table} (id) VALUES ($1)",
            static (p, id) => p.Add(new NpgsqlParameter<long> { TypedValue = id }),
            static id => id);

        await WaitUntilAsync(async () => await WaitingAsync(app, waitEvent) == Parallelism || run.IsCompleted, TimeSpan.FromSeconds(20), $"{Parallelism} commits wait on {waitEvent}");
        Assert.False(run.IsCompleted, "the run ended before its commits were held");
        Stopwatch clock = Stopwatch.StartNew();
        await Server.RestartAsync().WaitAsync(Limit);
        await afterRestart();
        BatchResult result = await run.WaitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"run ended {clock.ElapsedMilliseconds} ms after the restart began");
        return result;
    }

    private async Task<int> WaitingAsync(string app, string waitEvent)
    {
        await using NpgsqlConnection admin = new(Server.GetConnectionString("poolkit-admin"));
        await admin.OpenAsync();
        await using NpgsqlCommand command = new("SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $1 AND wait_event = $2", admin)
        {
            Parameters = { new() { Value = app }, new() { Value = waitEvent } },
        };
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private async Task<string> CreateTableAsync(bool slowCommitTrigger)
    {
        string table = "settle_" + Guid.NewGuid().ToString("N")[..10];
        await ExecuteAsync($"CREATE TABLE {table} (id bigint NOT NULL)");
        if (slowCommitTrigger)
        {
            // A deferred constraint trigger runs inside COMMIT: while the flag row exists, each COMMIT sleeps there.
            await ExecuteAsync($"""
                CREATE TABLE {table}_slow (flag int);
                INSERT INTO {table}_slow VALUES (1);
                CREATE FUNCTION {table}_sleep() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF EXISTS (SELECT 1 FROM {table}_slow) THEN PERFORM pg_sleep(30); END IF;
                    RETURN NULL;
                END $$;
                CREATE CONSTRAINT TRIGGER {table}_slow_commit AFTER INSERT ON {table}
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {table}_sleep();
                """);
        }

        return table;
    }

    private async Task<Dictionary<long, long>> RowsByKeyAsync(string table)
    {
        await using NpgsqlConnection admin = new(Server.GetConnectionString("poolkit-admin"));
        await admin.OpenAsync();
        await using NpgsqlCommand command = new($"SELECT id, count(*) FROM {table} GROUP BY id", admin);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        Dictionary<long, long> rows = [];
        while (await reader.ReadAsync())
        {
            rows[reader.GetInt64(0)] = reader.GetInt64(1);
        }

        return rows;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using NpgsqlConnection admin = new(Server.GetConnectionString("poolkit-admin"));
        await admin.OpenAsync();
        await using NpgsqlCommand command = new(sql, admin);
        await command.ExecuteNonQueryAsync();
    }
}
