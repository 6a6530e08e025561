using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.DependencyInjection;

/// <summary>The health check's three states on a healthy server, and that it never waits on a full pool.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class HealthCheckTests(PostgresServerFixture fixture)
{
    private const string Check = "poolkit-npgsql-default";

    private ServiceProvider Services(string app, int maxSize, FakeLogCollector logs, TimeSpan? waitThreshold = null, TimeSpan? acquireTimeout = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs)));
        services.AddNpgsqlConnectionPool(o =>
        {
            o.ConnectionString = fixture.Server.GetConnectionString(app);
            o.Pool.MaxSize = maxSize; // AcquireTimeout stays at its 15 s default unless given: the probe must not wait for it
            o.Pool.AcquireTimeout = acquireTimeout ?? o.Pool.AcquireTimeout;
        });
        services.AddHealthChecks().AddPoolKitNpgsql(waitThreshold: waitThreshold);
        return services.BuildServiceProvider();
    }

    private static async Task<(HealthReportEntry Entry, TimeSpan Took)> RunAsync(IServiceProvider sp)
    {
        var clock = Stopwatch.StartNew();
        HealthReport report = await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(Limit);
        return (report.Entries[Check], clock.Elapsed);
    }

    // The health check service itself logs every non-Healthy result at Warning; the pool and its check must not.
    private static bool IsPoolKit(FakeLogRecord record) => record.Category?.StartsWith("PoolKit", StringComparison.Ordinal) == true;

    [Fact]
    public async Task IdleConnections_Healthy()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), 2, logs);
        (HealthReportEntry entry, _) = await RunAsync(sp);
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        (entry, _) = await RunAsync(sp);
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        // The first probe's connection may still be resetting in the background when the second runs.
        PoolStatistics stats = await QuietStatisticsAsync(sp.GetRequiredService<NpgsqlConnectionPool>());
        Assert.InRange(stats.TotalCreated, 1, 2);
        Assert.Equal(0, stats.TotalDestroyed);
    }

    [Fact]
    public async Task FullyLeased_NobodyWaits_HealthyAtOnce_NoTimeoutCountedNoWarningLogged()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), 2, logs);
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        await using PoolLease<NpgsqlConnection> a = await pool.AcquireAsync();
        await using PoolLease<NpgsqlConnection> b = await pool.AcquireAsync();

        (HealthReportEntry entry, TimeSpan took) = await RunAsync(sp);

        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.True(took < TimeSpan.FromSeconds(1), $"took {took}");
        Assert.Equal(0, pool.GetStatistics().TotalTimeouts);
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Level >= LogLevel.Warning && IsPoolKit(r));
    }

    [Fact]
    public async Task Saturated_CallerWaitsBriefly_HealthyAtOnce()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), 1, logs);
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        PoolLease<NpgsqlConnection> held = await pool.AcquireAsync();
        Task<PoolLease<NpgsqlConnection>> waiter = pool.AcquireAsync().AsTask();
        await WaitUntilAsync(() => Task.FromResult(pool.GetStatistics().Waiting == 1), TimeSpan.FromSeconds(5), "a caller waits");

        (HealthReportEntry entry, TimeSpan took) = await RunAsync(sp);

        // A caller that has just started to wait is normal at peak: not Degraded (it was before issue 18).
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(1, entry.Data["waiting"]);
        Assert.True(took < TimeSpan.FromSeconds(1), $"took {took}");
        held.Dispose();
        (await waiter.WaitAsync(Limit)).Dispose();
        Assert.Equal(0, pool.GetStatistics().TotalTimeouts);
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Level >= LogLevel.Warning && IsPoolKit(r));
    }

    [Fact]
    public async Task CallerWaitedLongerThanThreshold_DegradedOnce_ThenHealthy()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), 1, logs, waitThreshold: TimeSpan.FromMilliseconds(200));
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        Assert.Equal(HealthStatus.Healthy, (await RunAsync(sp)).Entry.Status); // the check exists from here on

        PoolLease<NpgsqlConnection> held = await pool.AcquireAsync();
        Task<PoolLease<NpgsqlConnection>> waiter = pool.AcquireAsync().AsTask();
        await WaitUntilAsync(() => Task.FromResult(pool.GetStatistics().Waiting == 1), TimeSpan.FromSeconds(5), "a caller waits");
        await Task.Delay(400);
        held.Dispose();
        (await waiter.WaitAsync(Limit)).Dispose();

        (HealthReportEntry entry, _) = await RunAsync(sp);
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal($"Pool '{pool.Name}' serves connections, but callers waited longer than 0.2 s for one since the previous check.", entry.Description);
        Assert.Equal(1L, entry.Data["slowWaitsSincePreviousCheck"]);
        Assert.InRange((double)entry.Data["longestSlowWaitSeconds"], 0.35, 30);

        Assert.Equal(HealthStatus.Healthy, (await RunAsync(sp)).Entry.Status);
    }

    [Fact]
    public async Task Saturated_EveryAcquireTimedOut_Unhealthy()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), 1, logs, acquireTimeout: TimeSpan.FromSeconds(1));
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        await using PoolLease<NpgsqlConnection> held = await pool.AcquireAsync();
        Assert.Equal(HealthStatus.Healthy, (await RunAsync(sp)).Entry.Status); // busy, nobody waits

        await Assert.ThrowsAsync<PoolKitNpgsqlException>(async () => await pool.AcquireAsync().AsTask().WaitAsync(Limit));

        (HealthReportEntry entry, _) = await RunAsync(sp);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("no connection could be had", entry.Description, StringComparison.Ordinal);
        Assert.Equal(1L, entry.Data["timeoutsSincePreviousCheck"]);
    }

    [Fact]
    public async Task PeakLoad_ShortWaits_EveryCheckHealthy()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), 4, logs);
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        Assert.Equal(HealthStatus.Healthy, (await RunAsync(sp)).Entry.Status);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        Task[] workers = Enumerable.Range(0, 24).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
                await ScalarAsync(lease.Resource, "SELECT pg_sleep(0.002)");
            }
        })).ToArray();

        var entries = new List<HealthReportEntry>();
        while (!stop.IsCancellationRequested)
        {
            entries.Add((await RunAsync(sp)).Entry);
            await Task.Delay(50);
        }

        await Task.WhenAll(workers).WaitAsync(Limit);

        // Callers did queue (the check saw them, and the old rule said Degraded for each such probe), and waited briefly.
        Assert.Contains(entries, e => (int)e.Data["waiting"] > 0);
        Assert.True(pool.GetStatistics().TotalAcquiresWaited > 0);
        Assert.All(entries, e => Assert.Equal(HealthStatus.Healthy, e.Status));
        Assert.Equal(0, pool.GetStatistics().TotalTimeouts);
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Level >= LogLevel.Warning && IsPoolKit(r));
    }
}
