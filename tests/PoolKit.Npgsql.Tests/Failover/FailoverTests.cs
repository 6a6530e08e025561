using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using PoolKit.Testing;
using Xunit.Abstractions;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Failover;

/// <summary>
/// A real primary and streaming standby (<see cref="PostgresStandbyPair"/>), reached with multi-host connection
/// strings; each test fails over its own pair (stop the primary, promote the standby) and checks the new primary's rows.
/// </summary>
public sealed class FailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan PairLimit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task WriteAndReadPools_PrimaryStopsAndStandbyIsPromoted_WritesResumeOnTheNewPrimaryWithinSecondsAndEveryAcknowledgedWriteIsThere()
    {
        await using PostgresStandbyPair pair = await PostgresStandbyPair.StartAsync(LocalOnly()).WaitAsync(PairLimit);
        await ExecuteAsync(pair.Primary, "CREATE TABLE writes (id bigint NOT NULL, port int NOT NULL)");
        await pair.WaitForStandbyToCatchUpAsync(TimeSpan.FromSeconds(10));
        string app = AppName();
        await using NpgsqlConnectionPool writes = FailoverPool(pair.GetConnectionString(app + "w", TargetSessionAttributes.Primary) + ";Host Recheck Seconds=1");
        await using NpgsqlConnectionPool reads = FailoverPool(pair.GetConnectionString(app + "r", TargetSessionAttributes.PreferStandby) + ";Host Recheck Seconds=1");

        ConcurrentBag<long> acknowledged = [];
        ConcurrentQueue<Exception> writeErrors = new();
        ConcurrentQueue<Exception> readErrors = new();
        long nextId = 0, reads_ = 0;
        long firstWriteAfterPromoteTicks = 0;
        long promotedAtTicks = long.MaxValue;
        using CancellationTokenSource stop = new();
        Task[] writers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                long id = Interlocked.Increment(ref nextId);
                try
                {
                    await using PoolLease<NpgsqlConnection> lease = await writes.AcquireAsync();
                    try
                    {
                        await using NpgsqlCommand insert = new("INSERT INTO writes VALUES ($1, inet_server_port())", lease.Resource) { Parameters = { new() { Value = id } } };
                        await insert.ExecuteNonQueryAsync();
                    }
                    catch (Exception ex)
                    {
                        lease.MarkBrokenIf(ex);
                        throw;
                    }

                    acknowledged.Add(id);
                    long now = Stopwatch.GetTimestamp();
                    if (now > Volatile.Read(ref promotedAtTicks))
                    {
                        Interlocked.CompareExchange(ref firstWriteAfterPromoteTicks, now, 0);
                    }
                }
                catch (Exception ex)
                {
                    writeErrors.Enqueue(ex);
                    await Task.Delay(10);
                }
            }
        })).ToArray();
        Task reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await UseOnceAsync(reads);
                    Interlocked.Increment(ref reads_);
                }
                catch (Exception ex)
                {
                    readErrors.Enqueue(ex);
                    await Task.Delay(10);
                }
            }
        });

        double promoteMs, toFirstWriteMs;
        try
        {
            await WaitUntilAsync(() => Task.FromResult(acknowledged.Count > 50 && Interlocked.Read(ref reads_) > 20), TimeSpan.FromSeconds(15), "writes and reads run");
            await pair.StopPrimaryAsync().WaitAsync(Limit);
            long promoteStart = Stopwatch.GetTimestamp();
            Volatile.Write(ref promotedAtTicks, promoteStart);
            await pair.PromoteStandbyAsync().WaitAsync(Limit);
            promoteMs = Stopwatch.GetElapsedTime(promoteStart).TotalMilliseconds;
            await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref firstWriteAfterPromoteTicks) != 0), TimeSpan.FromSeconds(15), "a write succeeds on the new primary");
            toFirstWriteMs = Stopwatch.GetElapsedTime(promoteStart, Interlocked.Read(ref firstWriteAfterPromoteTicks)).TotalMilliseconds;
            long readsBefore = Interlocked.Read(ref reads_);
            await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref reads_) > readsBefore + 20), TimeSpan.FromSeconds(15), "reads continue");
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll([.. writers, reader]).WaitAsync(Limit);
        }

        output.WriteLine($"pg_ctl promote took {promoteMs:0} ms; first successful write through the pool {toFirstWriteMs:0} ms after the promote began; write errors {writeErrors.Count}, read errors {readErrors.Count}, acknowledged writes {acknowledged.Count}");
        foreach (IGrouping<string, Exception> kind in writeErrors.GroupBy(e => e is PostgresException pg ? pg.SqlState : e.GetType().Name))
        {
            output.WriteLine($"  write error {kind.Key}: {kind.Count()} ({kind.First().Message})");
        }

        Assert.True(toFirstWriteMs < 10_000, $"the first write on the new primary came {toFirstWriteMs:0} ms after the promote began");
        Dictionary<long, long> rows = await RowsByIdAsync(pair.Standby, "writes");
        Assert.All(acknowledged, id => Assert.Equal(1L, rows.GetValueOrDefault(id)));
        Assert.All(rows, r => Assert.Equal(1L, r.Value));
        Assert.Equal(0, (await QuietStatisticsAsync(writes)).Leased);
    }

    [Fact]
    public async Task StrictStandbyPool_StandbyPromoted_ItsConnectionIsEvictedNotHandedOutAgain()
    {
        await using PostgresStandbyPair pair = await PostgresStandbyPair.StartAsync(LocalOnly()).WaitAsync(PairLimit);
        await using NpgsqlConnectionPool standbyOnly = FailoverPool(pair.GetConnectionString(AppName(), TargetSessionAttributes.Standby));
        int backend;
        await using (PoolLease<NpgsqlConnection> lease = await standbyOnly.AcquireAsync())
        {
            Assert.Equal("on", lease.Resource.PostgresParameters["in_hot_standby"]);
            backend = lease.Resource.ProcessID;
        }

        await pair.PromoteStandbyAsync().WaitAsync(Limit);
        await using (PoolLease<NpgsqlConnection> lease = await standbyOnly.AcquireAsync())
        {
            // Still handed out: nothing told the client yet. Its next answer carries in_hot_standby = off.
            Assert.Equal(backend, lease.Resource.ProcessID);
            Assert.Equal(false, await ScalarAsync(lease.Resource, "SELECT pg_is_in_recovery()"));
            Assert.Equal("off", lease.Resource.PostgresParameters["in_hot_standby"]);
        }

        // The connection no longer leads to a standby: it is destroyed, and no standby is left to open another to.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using PoolLease<NpgsqlConnection> lease = await standbyOnly.AcquireAsync();
        });
        Assert.True(standbyOnly.GetStatistics().TotalDestroyed >= 1);
    }

    [Fact]
    public async Task BatchRunner_FailoverMidRun_EveryItemCommittedOnceFailedOrUnknownNeverDuplicated()
    {
        const int Count = 4_000;
        await using PostgresStandbyPair pair = await PostgresStandbyPair.StartAsync(LocalOnly()).WaitAsync(PairLimit);
        await ExecuteAsync(pair.Primary, "CREATE TABLE items (id bigint NOT NULL)");
        await pair.WaitForStandbyToCatchUpAsync(TimeSpan.FromSeconds(10));
        await using NpgsqlConnectionPool pool = FailoverPool(pair.GetConnectionString(AppName(), TargetSessionAttributes.Primary) + ";Host Recheck Seconds=1");
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions
        {
            ItemsPerTransaction = 20,
            MaxDegreeOfParallelism = 4,
            FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
            MaxRetriesPerUnit = 60,
            RetryBackoffInitial = TimeSpan.FromMilliseconds(50),
            RetryBackoffMax = TimeSpan.FromMilliseconds(250),
        });
        long progressed = 0;
        Task<BatchResult> run = runner.RunAsync(
            Slowly(Count),
            "INSERT INTO items (id) VALUES ($1)",
            static (p, id) => p.Add(new NpgsqlParameter<long> { TypedValue = id }),
            static id => id,
            new Progress(p => Interlocked.Exchange(ref progressed, p)));

        await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref progressed) > 400 || run.IsCompleted), TimeSpan.FromSeconds(20), "the run is under way");
        Assert.False(run.IsCompleted, "the run ended before the failover");
        Stopwatch clock = Stopwatch.StartNew();
        await pair.StopPrimaryAsync().WaitAsync(Limit);
        await pair.PromoteStandbyAsync().WaitAsync(Limit);
        BatchResult result = await run.WaitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"failover began {clock.ElapsedMilliseconds} ms before the run ended: {result}");

        Dictionary<long, long> rows = await RowsByIdAsync(pair.Standby, "items");
        Dictionary<long, BatchItemOutcome> failed = result.Failures.ToDictionary(f => (long)f.Key!, f => f.Outcome);
        Assert.Equal(Count, result.Read);
        Assert.Equal(Count, result.Committed + result.Failed + result.Unknown + result.NotStarted);
        Assert.All(rows, r => Assert.Equal(1L, r.Value));
        for (long id = 0; id < Count; id++)
        {
            long present = rows.GetValueOrDefault(id);
            switch (failed.GetValueOrDefault(id, BatchItemOutcome.Committed))
            {
                case BatchItemOutcome.Committed: Assert.True(present == 1, $"item {id} reported committed has {present} rows"); break;
                case BatchItemOutcome.Unknown: Assert.InRange(present, 0, 1); break;
                default: Assert.True(present == 0, $"item {id} reported failed has {present} rows"); break;
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BatchRunner_FailoverWhileCommitsWaitOnThePrimary_SettledOnTheNewPrimaryCommittedExactlyOnce(bool settle)
    {
        const int Units = 8, PerUnit = 10, Parallelism = 4;
        await using PostgresStandbyPair pair = await PostgresStandbyPair.StartAsync(LocalOnly()).WaitAsync(PairLimit);
        await ExecuteAsync(pair.Primary, "CREATE TABLE items (id bigint NOT NULL)");
        await pair.WaitForStandbyToCatchUpAsync(TimeSpan.FromSeconds(10));

        // Commits on the primary now wait for a synchronous standby that does not exist: they are committed (and
        // streamed to the real, asynchronous standby) but never acknowledged.
        await ExecuteAsync(pair.Primary, "ALTER SYSTEM SET synchronous_commit = on; ALTER SYSTEM SET synchronous_standby_names = 'poolkit_nobody'; SELECT pg_reload_conf()");
        string app = AppName();
        await using NpgsqlConnectionPool pool = FailoverPool(pair.GetConnectionString(app, TargetSessionAttributes.Primary) + ";Host Recheck Seconds=1");
        NpgsqlTransactionHandler handler = new(System.Data.IsolationLevel.Unspecified, settle ? TimeSpan.FromSeconds(30) : TimeSpan.Zero);
        var runner = pool.CreateBatchRunner(handler, new BatchRunnerOptions
        {
            ItemsPerTransaction = PerUnit,
            MaxDegreeOfParallelism = Parallelism,
            FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
            MaxRetriesPerUnit = 60,
            RetryBackoffInitial = TimeSpan.FromMilliseconds(50),
            RetryBackoffMax = TimeSpan.FromMilliseconds(250),
        });
        Task<BatchResult> run = runner.RunAsync(
            Enumerable.Range(0, Units * PerUnit).Select(i => (long)i),
            "INSERT INTO items (id) VALUES ($1)",
            static (p, id) => p.Add(new NpgsqlParameter<long> { TypedValue = id }),
            static id => id);

        await WaitUntilAsync(async () => await SyncRepWaitersAsync(pair.Primary, app) == Parallelism || run.IsCompleted, TimeSpan.FromSeconds(20), $"{Parallelism} commits wait for the synchronous standby");
        Assert.False(run.IsCompleted, "the run ended before its commits were held");
        await pair.StopPrimaryAsync().WaitAsync(Limit);
        await pair.PromoteStandbyAsync().WaitAsync(Limit);
        BatchResult result = await run.WaitAsync(TimeSpan.FromSeconds(90));
        output.WriteLine($"settle={settle}: {result}");
        foreach (var f in result.Failures.Where(f => f.Outcome != BatchItemOutcome.Unknown).Take(2)) { output.WriteLine($"FAILURE {f.Outcome}: {f.Exception}"); }

        Dictionary<long, long> rows = await RowsByIdAsync(pair.Standby, "items");
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
            Assert.Equal(Parallelism * PerUnit, result.Unknown);
        }
    }

    private static async Task<int> SyncRepWaitersAsync(PostgresTestServer server, string app)
    {
        await using NpgsqlConnection admin = new(server.GetConnectionString("poolkit-admin"));
        await admin.OpenAsync();
        await using NpgsqlCommand command = new("SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'SyncRep'", admin)
        {
            Parameters = { new() { Value = app } },
        };
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private static async IAsyncEnumerable<long> Slowly(int count)
    {
        for (long i = 0; i < count; i++)
        {
            if (i % 100 == 0)
            {
                await Task.Delay(15);
            }

            yield return i;
        }
    }

    private sealed class Progress(Action<long> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value.Committed);
    }

    private static NpgsqlConnectionPool FailoverPool(string connectionString) => new(new NpgsqlConnectionPoolOptions
    {
        ConnectionString = connectionString,
        Pool = new ConnectionPoolOptions
        {
            MaxSize = 4,
            AcquireTimeout = TimeSpan.FromSeconds(5),
            CreationBackoffInitial = TimeSpan.FromMilliseconds(50),
            CreationBackoffMax = TimeSpan.FromMilliseconds(250),
        },
    });

    private static async Task ExecuteAsync(PostgresTestServer server, string sql)
    {
        await using NpgsqlConnection admin = new(server.GetConnectionString("poolkit-admin"));
        await admin.OpenAsync();
        await using NpgsqlCommand command = new(sql, admin);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<Dictionary<long, long>> RowsByIdAsync(PostgresTestServer server, string table)
    {
        await using NpgsqlConnection admin = new(server.GetConnectionString("poolkit-admin"));
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
}
