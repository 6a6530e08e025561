using System.Data.Common;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using Polly;
using Polly.Retry;
using PoolKit.Testing;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Faults;

/// <summary>
/// Every error from opening through PoolKit.Npgsql is an <see cref="NpgsqlException"/> whose IsTransient says whether
/// a retry can succeed, so ordinary resilience code works: a Polly pipeline and a plain catch filter, against a real
/// outage of a server of this class's own.
/// </summary>
public sealed class TransientErrorTests(DedicatedServerFixture fixture) : IClassFixture<DedicatedServerFixture>
{
    private PostgresTestServer Server => fixture.Server;

    private static ConnectionPoolOptions Fast(string app) => new()
    {
        Name = app,
        MaxSize = 4,
        AcquireTimeout = TimeSpan.FromSeconds(3),
        CreationBackoffInitial = TimeSpan.FromMilliseconds(100),
        CreationBackoffMax = TimeSpan.FromMilliseconds(400),
    };

    [Fact]
    public async Task Outage_EveryOpenErrorIsATransientNpgsqlException_AndAPollyPipelineRetriesThroughIt()
    {
        string app = AppName();
        await using var ds = PoolKitDataSource.Create(Server.GetConnectionString(app), Fast(app));
        var errors = new List<Exception>();
        try
        {
            await Server.StopAsync().WaitAsync(Limit);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(1.5))
            {
                try
                {
                    await using DbConnection conn = await ds.OpenConnectionAsync().AsTask().WaitAsync(Limit);
                    Assert.Fail("opened a connection while the server is down");
                }
                catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
                {
                    errors.Add(ex);
                }

                await Task.Delay(20);
            }

            Assert.NotEmpty(errors);
            Assert.All(errors, ex =>
            {
                NpgsqlException npgsql = Assert.IsAssignableFrom<NpgsqlException>(ex);
                Assert.True(npgsql.IsTransient, ex.ToString());
            });

            // Callers get the refused attempt itself (Npgsql's exception, as Npgsql raised it), never an older error:
            // the pool reports each attempt's fresh error to whoever waits for it.
            Assert.Contains(errors, ex => ex is NpgsqlException and not PoolKitNpgsqlException);

            int attempts = 0;
            ResiliencePipeline pipeline = new ResiliencePipelineBuilder()
                .AddRetry(new RetryStrategyOptions
                {
                    ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(e => e.IsTransient),
                    MaxRetryAttempts = 100,
                    Delay = TimeSpan.FromMilliseconds(100),
                    BackoffType = DelayBackoffType.Constant,
                })
                .Build();
            Task restart = Task.Run(async () =>
            {
                await Task.Delay(1000);
                await Server.StartAgainAsync();
            });
            object? result = await pipeline.ExecuteAsync(async ct =>
            {
                Interlocked.Increment(ref attempts);
                await using DbConnection conn = await ds.OpenConnectionAsync(ct);
                await using DbCommand command = conn.CreateCommand();
                command.CommandText = "SELECT 1";
                return await command.ExecuteScalarAsync(ct);
            }).AsTask().WaitAsync(Limit);
            await restart.WaitAsync(Limit);

            Assert.Equal(1, result);
            Assert.True(attempts > 1, $"attempts {attempts}");
        }
        finally
        {
            await Server.StartAgainAsync().WaitAsync(Limit);
        }
    }

    [Fact]
    public async Task Frozen_TimeoutsWhileConnectingAreTransient()
    {
        string app = AppName();
        ConnectionPoolOptions options = Fast(app);

        // Npgsql's connect Timeout (1 s) ends well before the pool's AcquireTimeout (3 s), so what the caller gets is
        // the timeout while connecting. With both at 1 s the two timers raced, and in one of four CI runs the pool's
        // timeout won with the connection still being opened.
        options.AcquireTimeout = TimeSpan.FromSeconds(3);
        await using var ds = PoolKitDataSource.Create(Server.GetConnectionString(app) + ";Timeout=1", options);
        try
        {
            await Server.FreezeAsync().WaitAsync(Limit);
            Exception ex = await Assert.ThrowsAnyAsync<Exception>(async () => await ds.OpenConnectionAsync().AsTask().WaitAsync(Limit));
            NpgsqlException npgsql = Assert.IsAssignableFrom<NpgsqlException>(ex);
            Assert.True(npgsql.IsTransient, ex.ToString());
        }
        finally
        {
            await Server.ThawAsync().WaitAsync(Limit);
        }
    }

    [Theory]
    [InlineData("password", PostgresErrorCodes.InvalidPassword)]
    [InlineData("database", PostgresErrorCodes.InvalidCatalogName)]
    public async Task OperatorErrors_BadPasswordOrMissingDatabase_AreNotTransient_SoACatchFilterRetryGivesUpAtOnce(string what, string sqlState)
    {
        string app = AppName();
        NpgsqlConnectionStringBuilder settings = new(Server.GetConnectionString(app));
        if (what == "password")
        {
            settings.Password = "not-the-password";
        }
        else
        {
            settings.Database = "no_such_database";
        }

        await using var ds = PoolKitDataSource.Create(settings.ConnectionString, Fast(app));
        var seen = new List<NpgsqlException>();
        int attempts = 0;
        for (int i = 0; i < 5; i++)
        {
            attempts++;
            try
            {
                await using DbConnection conn = await ds.OpenConnectionAsync().AsTask().WaitAsync(Limit);
                Assert.Fail("opened");
            }
            catch (NpgsqlException e) when (e.IsTransient)
            {
                seen.Add(e);
                await Task.Delay(50);
            }
            catch (NpgsqlException e)
            {
                seen.Add(e);
                break;
            }
        }

        Assert.Equal(1, attempts);
        NpgsqlException error = Assert.Single(seen);
        Assert.False(error.IsTransient);
        Assert.Equal(sqlState, error.SqlState);

        // The next open fails the same way (the server's own error or, during the back-off, PoolKit's): not transient either, same SQLSTATE.
        NpgsqlException fast = await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await ds.OpenConnectionAsync());
        Assert.False(fast.IsTransient);
        Assert.Equal(sqlState, fast.SqlState);
        Assert.DoesNotContain("not-the-password", fast.ToString());
    }

    [Fact]
    public async Task Outage_IsLoggedAsItsStartAndASummary_NotAStackTracePerAttempt()
    {
        string app = AppName();
        var logs = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs)));
        await using var pool = new NpgsqlConnectionPool(new NpgsqlConnectionPoolOptions { ConnectionString = Server.GetConnectionString(app), Pool = Fast(app) }, factory);
        await using var ds = new PoolKitDataSource(pool);
        try
        {
            await Server.StopAsync().WaitAsync(Limit);
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(2))
            {
                try
                {
                    await using DbConnection conn = await ds.OpenConnectionAsync().AsTask().WaitAsync(Limit);
                }
                catch (NpgsqlException)
                {
                    await Task.Delay(50);
                }
            }
        }
        finally
        {
            await Server.StartAgainAsync().WaitAsync(Limit);
        }

        await WaitUntilAsync(
            async () => { try { await using DbConnection c = await ds.OpenConnectionAsync(); return true; } catch (NpgsqlException) { return false; } },
            TimeSpan.FromSeconds(10),
            "the pool connects again");

        List<FakeLogRecord> failed = logs.GetSnapshot().Where(r => r.Id.Id == PoolEventIds.CreationFailed).ToList();
        Assert.True(failed.Count >= 4, $"only {failed.Count} failed attempts");
        FakeLogRecord start = Assert.Single(failed, r => r.Level == LogLevel.Warning);
        Assert.Same(failed[0], start);
        Assert.NotNull(start.Exception);
        Assert.All(failed.Skip(1), r => Assert.Equal(LogLevel.Debug, r.Level));
        Assert.All(failed.Skip(1), r => Assert.Null(r.Exception));
        FakeLogRecord summary = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == PoolEventIds.CreationRecovered);
        Assert.Contains($"after {failed.Count} failed attempts over", summary.Message);
    }

    private sealed class ProbeContext(DbContextOptions<ProbeContext> options) : DbContext(options);

    [Fact]
    public async Task Outage_EfCoresRetryingExecutionStrategy_RetriesThroughIt()
    {
        string app = AppName();
        await using var ds = PoolKitDataSource.Create(Server.GetConnectionString(app), Fast(app));
        DbContextOptions<ProbeContext> options = new DbContextOptionsBuilder<ProbeContext>()
            .UseNpgsql(ds, o => o.EnableRetryOnFailure(maxRetryCount: 30, maxRetryDelay: TimeSpan.FromMilliseconds(200), errorCodesToAdd: null))
            .Options;
        try
        {
            await Server.StopAsync().WaitAsync(Limit);
            Task restart = Task.Run(async () =>
            {
                await Task.Delay(1000);
                await Server.StartAgainAsync();
            });
            await using var db = new ProbeContext(options);
            var clock = Stopwatch.StartNew();
            List<int> result = await db.Database.SqlQueryRaw<int>("SELECT 1 AS \"Value\"").ToListAsync().WaitAsync(Limit);
            await restart.WaitAsync(Limit);

            Assert.Equal([1], result);
            Assert.True(clock.Elapsed > TimeSpan.FromSeconds(0.5), $"answered after {clock.Elapsed}: the outage was not seen");
        }
        finally
        {
            await Server.StartAgainAsync().WaitAsync(Limit);
        }
    }
}
