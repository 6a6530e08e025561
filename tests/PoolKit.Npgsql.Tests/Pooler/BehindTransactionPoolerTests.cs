using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using PoolKit.Testing;
using Xunit.Abstractions;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooler;

/// <summary>
/// <see cref="NpgsqlConnectionPoolOptions.BehindTransactionPooler"/>: what it picks and refuses, and several PoolKit
/// pools (several application instances) through one real PgBouncer whose server pool is smaller than their sum.
/// </summary>
public sealed class BehindTransactionPoolerTests(PgBouncerFixture fixture, ITestOutputHelper output) : IClassFixture<PgBouncerFixture>
{
    private const string AnyConnectionString = "Host=127.0.0.1;Port=6432;Username=app;Password=secret-value;Database=app";

    [Fact]
    public void Validate_BehindTransactionPooler_RefusesEverythingThatCannotWorkAtOnceWithoutTheSecret()
    {
        NpgsqlConnectionPoolOptions options = new()
        {
            ConnectionString = AnyConnectionString + ";Max Auto Prepare=10;Options=-c statement_timeout=5s;Search Path=app",
            ResetMode = NpgsqlResetMode.DiscardOnReturn,
            BehindTransactionPooler = true,
        };

        IReadOnlyList<string> errors = options.Validate();

        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.Contains("DiscardOnReturn", StringComparison.Ordinal) && e.Contains("RollbackOnly", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'Max Auto Prepare'", StringComparison.Ordinal) && e.Contains("26000", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'Options'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'Search Path'", StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain("secret-value", e, StringComparison.Ordinal));
        ConnectionPoolOptionsException thrown = Assert.Throws<ConnectionPoolOptionsException>(() => new NpgsqlConnectionPool(options));
        Assert.Equal(4, thrown.Errors.Count);

        // Without the flag the same settings are accepted (they work against a server directly).
        options.BehindTransactionPooler = false;
        Assert.Empty(options.Validate());
    }

    [Fact]
    public void Constructor_FromDataSourceBuilderBehindTransactionPooler_RefusesAutoPrepare()
    {
        NpgsqlDataSourceBuilder builder = new(AnyConnectionString + ";Max Auto Prepare=10");
        ConnectionPoolOptionsException thrown = Assert.Throws<ConnectionPoolOptionsException>(
            () => new NpgsqlConnectionPool(builder, new NpgsqlConnectionPoolOptions { BehindTransactionPooler = true }));
        Assert.Contains(thrown.Errors, e => e.Contains("'Max Auto Prepare'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pool_BehindTransactionPooler_ResetsWithRollbackOnlySoAnOpenTransactionDoesNotPinTheServerSession()
    {
        await using NpgsqlConnectionPool a = PoolerPool(fixture.Bouncer.GetConnectionString(AppName() + "a"), maxSize: 1);
        await using NpgsqlConnectionPool b = PoolerPool(fixture.Bouncer.GetConnectionString(AppName() + "b"), maxSize: 1);
        Assert.Equal(NpgsqlResetMode.RollbackOnly, a.ResetMode);
        Assert.False(a.Policy.QueuesResetWithNextCommand);
        string table = "pin_" + Guid.NewGuid().ToString("N")[..8];
        await using (PoolLease<NpgsqlConnection> lease = await b.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, $"CREATE TABLE {table} (id int)");
        }

        await using (PoolLease<NpgsqlConnection> lease = await a.AcquireAsync())
        {
            // Returned with its transaction open: PgBouncer's only server session stays linked to A until the reset.
            await lease.Resource.BeginTransactionAsync();
            await ScalarAsync(lease.Resource, $"INSERT INTO {table} VALUES (1)");
        }

        await using (PoolLease<NpgsqlConnection> lease = await b.AcquireAsync())
        {
            using CancellationTokenSource limit = new(TimeSpan.FromSeconds(10));
            Assert.Equal(0L, await ScalarAsync(lease.Resource, $"SELECT count(*) FROM {table}", limit.Token));
        }
    }

    [Fact]
    public async Task SeveralPools_ServerPoolSmallerThanTheirSum_BoundsHeldOnBothSidesAndNoErrors()
    {
        const int Instances = 4;
        const int MaxSize = 4;
        const int ServerPool = 3;
        string database = await CreateDatabaseAsync();
        await using PgBouncerTestServer bouncer = await PgBouncerTestServer.StartAsync(fixture.Server, new PgBouncerTestServerOptions { DefaultPoolSize = ServerPool }).WaitAsync(Limit);
        NpgsqlConnectionPool[] pools = Enumerable.Range(0, Instances)
            .Select(i => PoolerPool(OnDatabase(bouncer.GetConnectionString(AppName() + "_" + i), database), MaxSize))
            .ToArray();
        ConcurrentQueue<Exception> errors = new();
        long transactions = 0;
        int maxServerSessions = 0, maxPgBouncerServers = 0, maxClients = 0, maxLive = 0, samples = 0;
        using CancellationTokenSource stop = new(TimeSpan.FromSeconds(4));
        try
        {
            Task[] workers = pools.SelectMany(pool => Enumerable.Range(0, MaxSize + 2).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
                        await using NpgsqlTransaction transaction = await lease.Resource.BeginTransactionAsync();
                        await ScalarAsync(lease.Resource, "SELECT pg_sleep(0.002)");
                        await transaction.CommitAsync();
                        Interlocked.Increment(ref transactions);
                    }
                    catch (Exception ex)
                    {
                        errors.Enqueue(ex);
                    }
                }
            }))).ToArray();

            Stopwatch clock = Stopwatch.StartNew();
            while (!stop.IsCancellationRequested)
            {
                PgBouncerPoolStatus status = (await bouncer.ShowPoolsAsync()).Single(p => p.Database == database);
                maxPgBouncerServers = Math.Max(maxPgBouncerServers, status.ServerTotal);
                maxClients = Math.Max(maxClients, status.ClientActive + status.ClientWaiting);
                maxServerSessions = Math.Max(maxServerSessions, await ServerSessionsAsync(database));
                maxLive = Math.Max(maxLive, pools.Max(p => p.GetStatistics().Live));
                samples++;
            }

            await Task.WhenAll(workers).WaitAsync(Limit);
            output.WriteLine($"{Instances} instances x MaxSize {MaxSize} through PgBouncer default_pool_size {ServerPool}: {transactions} transactions in {clock.Elapsed.TotalSeconds:0.0} s ({transactions / clock.Elapsed.TotalSeconds:0} tx/s), {samples} samples; max server sessions {maxServerSessions}, max PgBouncer servers {maxPgBouncerServers}, max clients {maxClients}, max live per pool {maxLive}, errors {errors.Count}");
        }
        finally
        {
            foreach (NpgsqlConnectionPool pool in pools)
            {
                await pool.DisposeAsync();
            }
        }

        Assert.Empty(errors);
        Assert.True(transactions > 100, $"only {transactions} transactions ran");
        Assert.True(samples >= 3, $"only {samples} samples");
        Assert.InRange(maxServerSessions, 1, ServerPool);
        Assert.InRange(maxPgBouncerServers, 1, ServerPool);
        Assert.InRange(maxClients, Instances, Instances * MaxSize);
        Assert.InRange(maxLive, 1, MaxSize);
    }

    [Fact]
    public async Task Pool_PgBouncerReconnectAndRestartUnderLoad_ReconnectCostsNothingRestartErrorsAreRealAndThePoolServesAgain()
    {
        await using PgBouncerTestServer bouncer = await PgBouncerTestServer.StartAsync(fixture.Server, new PgBouncerTestServerOptions { DefaultPoolSize = 2 }).WaitAsync(Limit);
        await using NpgsqlConnectionPool pool = PoolerPool(bouncer.GetConnectionString(AppName()), maxSize: 4, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(50);
            o.CreationBackoffMax = TimeSpan.FromMilliseconds(300);
        });
        ConcurrentQueue<Exception> errors = new();
        long successes = 0;
        using CancellationTokenSource stop = new();
        Task[] workers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await UseOnceAsync(pool);
                    Interlocked.Increment(ref successes);
                }
                catch (Exception ex)
                {
                    errors.Enqueue(ex);
                    await Task.Delay(20);
                }
            }
        })).ToArray();

        try
        {
            await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref successes) > 50), TimeSpan.FromSeconds(10), "the load runs");
            await bouncer.ReconnectAsync().WaitAsync(Limit);
            long before = Interlocked.Read(ref successes);
            await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref successes) > before + 50), TimeSpan.FromSeconds(10), "the load runs after RECONNECT");
            Assert.Empty(errors);

            await bouncer.RestartAsync().WaitAsync(Limit);
            Stopwatch sinceBack = Stopwatch.StartNew();
            before = Interlocked.Read(ref successes);
            await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref successes) > before + 50), TimeSpan.FromSeconds(10), "the pool serves again after the restart");
            output.WriteLine($"RECONNECT: 0 errors; restart: {errors.Count} errors, serving again {sinceBack.ElapsedMilliseconds} ms after PgBouncer accepted connections");
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(workers).WaitAsync(Limit);
            await bouncer.StartAgainAsync().WaitAsync(Limit);
        }

        Assert.All(errors, ex => Assert.True(
            RealError(ex) is NpgsqlException real && NpgsqlErrorClassifier.IsConnectionBroken(real),
            $"expected a real connection error, got {ex}"));
        Assert.Equal(0, (await QuietStatisticsAsync(pool)).Leased);
    }

    [Fact]
    public async Task BatchRunner_ThroughPgBouncerWithReconnectAndRestartMidRun_EveryItemCommittedOnceFailedOrUnknownNeverDuplicated()
    {
        const int Count = 6_000;
        string database = await CreateDatabaseAsync();
        await using PgBouncerTestServer bouncer = await PgBouncerTestServer.StartAsync(fixture.Server, new PgBouncerTestServerOptions { DefaultPoolSize = 2 }).WaitAsync(Limit);
        string connectionString = OnDatabase(bouncer.GetConnectionString(AppName()), database);
        await using (NpgsqlConnection setup = new(connectionString))
        {
            await setup.OpenAsync();
            await ScalarAsync(setup, "CREATE TABLE items (id bigint NOT NULL)");
        }

        // Three instances' runners share PgBouncer's two server connections.
        NpgsqlConnectionPool[] pools = Enumerable.Range(0, 3).Select(_ => PoolerPool(connectionString, maxSize: 3, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(50);
            o.CreationBackoffMax = TimeSpan.FromMilliseconds(300);
        })).ToArray();
        BatchResult[] results;
        long caughtIdle = 0;
        try
        {
            long[] committed = new long[pools.Length];
            Task<BatchResult>[] runs = pools.Select((pool, instance) => pool.CreateBatchRunner(new BatchRunnerOptions
            {
                ItemsPerTransaction = 25,
                MaxDegreeOfParallelism = 3,
                FailurePolicy = BatchFailurePolicy.ContinueOnFailure,
                MaxRetriesPerUnit = 40,
                RetryBackoffInitial = TimeSpan.FromMilliseconds(50),
                RetryBackoffMax = TimeSpan.FromMilliseconds(250),
                ProgressInterval = TimeSpan.FromMilliseconds(50),
            }).RunAsync(
                Paced(instance, 3, Count),
                "INSERT INTO items (id) VALUES ($1)",
                static (p, id) => p.Add(new NpgsqlParameter<long> { TypedValue = id }),
                static id => id,
                new CommittedProgress(c => Interlocked.Exchange(ref committed[instance], c)))).ToArray();

            await WaitUntilAsync(() => Task.FromResult(committed.Sum(c => Interlocked.Read(ref c)) > 300 || runs.All(r => r.IsCompleted)), TimeSpan.FromSeconds(20), "the runs are under way");
            await bouncer.ReconnectAsync().WaitAsync(Limit);
            await Task.Delay(300);
            await bouncer.RestartAsync().WaitAsync(Limit);
            results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromSeconds(90));
            foreach (NpgsqlConnectionPool pool in pools)
            {
                caughtIdle += (await QuietStatisticsAsync(pool)).DestroyedBy.Unusable;
            }
        }
        finally
        {
            await bouncer.StartAgainAsync().WaitAsync(Limit);
            foreach (NpgsqlConnectionPool pool in pools)
            {
                await pool.DisposeAsync();
            }
        }

        foreach (BatchResult result in results)
        {
            output.WriteLine(result.ToString());
        }

        Dictionary<long, long> rows = [];
        await using (NpgsqlConnection check = new(OnDatabase(fixture.Server.GetConnectionString("poolkit-admin"), database)))
        {
            await check.OpenAsync();
            await using NpgsqlCommand command = new("SELECT id, count(*) FROM items GROUP BY id", check);
            await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                rows[reader.GetInt64(0)] = reader.GetInt64(1);
            }
        }

        Dictionary<long, BatchItemOutcome> failed = results.SelectMany(r => r.Failures).ToDictionary(f => (long)f.Key!, f => f.Outcome);
        Assert.Equal(Count, results.Sum(r => r.Read));
        // The restart cut running units (retried) or idle connections, which the pool destroys before handing them out
        // (the socket look of NpgsqlConnectionPolicy.IsUsable): either way it was met. With a unit in one round trip,
        // units spend little time on the wire, so a restart often finds every connection idle.
        long retries = results.Sum(r => r.Retries);
        Assert.True(retries + caughtIdle > 0, $"the restart was met by no unit and no hand-out: {retries} retries, {caughtIdle} dead idle connections destroyed before hand-out");
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

    /// <summary>This instance's share of 0..count-1, with a pause every 100 items so the run spans the faults.</summary>
    private static async IAsyncEnumerable<long> Paced(int instance, int instances, int count)
    {
        for (long id = instance; id < count; id += instances)
        {
            // About one pause per unit (25 items) per instance: a run lasts well over a second, so the RECONNECT and
            // the restart below land while units are in flight (with every hundredth item paced, a run could end first).
            if (id % (25 * instances) < instances)
            {
                await Task.Delay(20);
            }

            yield return id;
        }
    }

    private sealed class CommittedProgress(Action<long> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value.Committed);
    }

    private static NpgsqlConnectionPool PoolerPool(string connectionString, int maxSize, Action<ConnectionPoolOptions>? configure = null)
    {
        ConnectionPoolOptions pool = new() { MaxSize = maxSize, AcquireTimeout = TimeSpan.FromSeconds(10) };
        configure?.Invoke(pool);
        return new NpgsqlConnectionPool(new NpgsqlConnectionPoolOptions { ConnectionString = connectionString, BehindTransactionPooler = true, Pool = pool });
    }

    /// <summary>The server's or network's error under PoolKit's wrappers (the pool's own exception and its NpgsqlException face).</summary>
    private static Exception RealError(Exception ex)
    {
        while (ex is PoolKitNpgsqlException or ResourceCreationException && ex.InnerException is { } inner)
        {
            ex = inner;
        }

        return ex;
    }

    private static string OnDatabase(string connectionString, string database) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Database = database }.ConnectionString;

    private async Task<string> CreateDatabaseAsync() =>
        (await fixture.Server.CreateDatabaseAsync()).Name;

    private async Task<int> ServerSessionsAsync(string database)
    {
        await using NpgsqlConnection admin = new(fixture.Server.GetConnectionString("poolkit-admin"));
        await admin.OpenAsync();
        await using NpgsqlCommand command = new("SELECT count(*)::int FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()", admin)
        {
            Parameters = { new() { Value = database } },
        };
        return (int)(await command.ExecuteScalarAsync())!;
    }
}
