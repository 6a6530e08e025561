using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Npgsql;
using PoolKit.Testing;
using Xunit.Abstractions;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Batching;

/// <summary>
/// The runner's exactly-once ledger under faults, on a server of the test's own: 64 tasks in three modes at once (per-item
/// SQL with 1 item per transaction, the insert mode's one statement per unit, with units of 50 rows and of one row, and
/// its COPY), a random backend of
/// theirs terminated every second, and the server restarted halfway. Nothing may be lost, duplicated or left unknown.
/// </summary>
/// <remarks>
/// The CI run lasts about 20 s (a dozen kills and one restart). The longer soak runs the same test for longer:
/// <c>POOLKIT_SOAK_SECONDS=90 dotnet test tests/PoolKit.Npgsql.Tests --filter "FullyQualifiedName~RunnerSoakTests"</c>.
/// </remarks>
public sealed class RunnerSoakTests(ITestOutputHelper output)
{
    private const string AppPrefix = "soak";

    [Fact]
    public async Task Run_64TasksWithABackendKilledEverySecondAndARestart_NothingLostDuplicatedOrUnknown()
    {
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("POOLKIT_SOAK_SECONDS"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : 20;
        TimeSpan duration = TimeSpan.FromSeconds(seconds);
        await using PostgresTestServer server = await PostgresTestServer.StartAsync(LocalOnly(maxConnections: 100)).WaitAsync(TimeSpan.FromSeconds(60));
        Lane[] lanes =
        [
            new("sql", Tasks: 16, ItemsPerTransaction: 1, CopyThreshold: int.MaxValue, ItemsPerMillisecond: 0),
            new("insert", Tasks: 16, ItemsPerTransaction: 50, CopyThreshold: int.MaxValue, ItemsPerMillisecond: 20),

            // Units of one row: the INSERT itself returns the record (BEGIN, INSERT, COMMIT).
            new("insert1", Tasks: 8, ItemsPerTransaction: 1, CopyThreshold: int.MaxValue, ItemsPerMillisecond: 0),
            new("copy", Tasks: 24, ItemsPerTransaction: 500, CopyThreshold: 1, ItemsPerMillisecond: 40),
        ];

        string suffix = Guid.NewGuid().ToString("N")[..8];
        foreach (Lane lane in lanes)
        {
            await ExecuteAsync(server, $"CREATE TABLE {lane.Table(suffix)} (id bigint PRIMARY KEY, payload int NOT NULL)");
        }

        Stopwatch clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        Task<(int Kills, bool Restarted)> faults = InjectFaultsAsync(server, duration, stop.Token);
        BatchResult[] results = await Task.WhenAll(lanes.Select(lane => RunLaneAsync(server, lane, suffix, duration))).WaitAsync(duration + TimeSpan.FromSeconds(120));
        await stop.CancelAsync();
        (int kills, bool restarted) = await faults.WaitAsync(Limit);
        output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s, {kills} backends killed, restarted {restarted}");

        Assert.True(restarted, "the server was not restarted during the run");
        Assert.True(kills >= seconds / 3, $"only {kills} backends were killed in {seconds} s");
        for (int i = 0; i < lanes.Length; i++)
        {
            BatchResult result = results[i];
            output.WriteLine($"{lanes[i].Name}: {result}");
            string failures = string.Join("; ", result.Failures.Take(5).Select(static f => $"{f.Index} {f.Outcome} {f.Exception.Message}"));
            Assert.True(result.Read > 0, $"{lanes[i].Name}: nothing was read");
            Assert.True(result.Failed == 0 && result.Unknown == 0 && result.NotStarted == 0, $"{lanes[i].Name}: {result} {failures}");
            Assert.Equal(result.Read, result.Committed);
            Assert.Equal((result.Read, result.Read, 0L, result.Read - 1), await TableStatsAsync(server, lanes[i].Table(suffix)));
        }
    }

    private static async Task<BatchResult> RunLaneAsync(PostgresTestServer server, Lane lane, string suffix, TimeSpan duration)
    {
        string app = $"{AppPrefix}_{lane.Name}_{suffix}";
        await using NpgsqlConnectionPool pool = CreatePool(server, app, o =>
        {
            o.MaxSize = lane.Tasks;
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(50);
            o.CreationBackoffMax = TimeSpan.FromMilliseconds(500);
        }, NpgsqlResetMode.RollbackOnly);
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions
        {
            ItemsPerTransaction = lane.ItemsPerTransaction,
            MaxDegreeOfParallelism = lane.Tasks,
            FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
            MaxRetriesPerUnit = 100,
            RetryBudget = 1_000_000,
            RetryBackoffInitial = TimeSpan.FromMilliseconds(20),
            RetryBackoffMax = TimeSpan.FromMilliseconds(500),
        });
        string table = lane.Table(suffix);
        IAsyncEnumerable<long> items = ItemsAsync(duration, lane.ItemsPerMillisecond);
        return lane.Name == "sql"
            ? await runner.RunAsync(items, $"INSERT INTO {table} (id, payload) VALUES ($1, $2)", static (p, id) =>
            {
                p.Add(new NpgsqlParameter<long> { TypedValue = id });
                p.Add(new NpgsqlParameter<int> { TypedValue = (int)(id % 1_000) });
            }, static id => id)
            : await runner.RunInsertAsync(
                items,
                new NpgsqlRowInsert<long>(table) { CopyThreshold = lane.CopyThreshold }
                    .Column("id", static id => id)
                    .Column("payload", static id => (int)(id % 1_000)),
                static id => id);
    }

    /// <summary>Ids 0, 1, 2, ... until <paramref name="duration"/> has passed, at most about <paramref name="perMillisecond"/> per millisecond (0: as fast as read).</summary>
    private static async IAsyncEnumerable<long> ItemsAsync(TimeSpan duration, int perMillisecond, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stopwatch clock = Stopwatch.StartNew();
        for (long id = 0; clock.Elapsed < duration; id++)
        {
            if (perMillisecond > 0 && id % perMillisecond == 0)
            {
                await Task.Delay(1, cancellationToken);
            }
            else if (id % 64 == 0)
            {
                await Task.Yield();
            }

            yield return id;
        }
    }

    /// <summary>Terminates one random backend of the soak's pools every second, and restarts the server halfway.</summary>
    private async Task<(int Kills, bool Restarted)> InjectFaultsAsync(PostgresTestServer server, TimeSpan duration, CancellationToken cancellationToken)
    {
        int kills = 0;
        bool restarted = false;
        Stopwatch clock = Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                if (!restarted && clock.Elapsed >= duration / 2)
                {
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: restarting the server");
                    await server.RestartAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
                    restarted = true;
                    continue;
                }

                try
                {
                    // The victim is chosen in a subquery: pg_terminate_backend in the outer select list runs on it alone.
                    object? killed = await ScalarOnceAsync(
                        server,
                        $"SELECT count(*)::int FROM (SELECT pid FROM pg_stat_activity WHERE application_name LIKE '{AppPrefix}\\_%' ORDER BY random() LIMIT 1) v WHERE pg_terminate_backend(v.pid)");
                    kills += (int)killed!;
                }
                catch (NpgsqlException ex)
                {
                    output.WriteLine($"{clock.Elapsed.TotalSeconds:0.0} s: kill failed: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        return (kills, restarted);
    }

    private static async Task<object?> ScalarOnceAsync(PostgresTestServer server, string sql)
    {
        await using NpgsqlConnection connection = new(server.GetConnectionString("poolkit-soak-admin"));
        await connection.OpenAsync();
        await using NpgsqlCommand command = new(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    private static async Task ExecuteAsync(PostgresTestServer server, string sql) => _ = await ScalarOnceAsync(server, sql);

    private static async Task<(long Count, long Distinct, long Min, long Max)> TableStatsAsync(PostgresTestServer server, string table)
    {
        await using NpgsqlConnection connection = new(server.GetConnectionString("poolkit-soak-admin"));
        await connection.OpenAsync();
        await using NpgsqlCommand command = new($"SELECT count(*), count(DISTINCT id), coalesce(min(id), 0), coalesce(max(id), -1) FROM {table}", connection);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    private sealed record Lane(string Name, int Tasks, int ItemsPerTransaction, int CopyThreshold, int ItemsPerMillisecond)
    {
        public string Table(string suffix) => $"soak_{Name}_{suffix}";
    }
}
