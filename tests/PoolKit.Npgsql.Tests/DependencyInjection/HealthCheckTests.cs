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

    private ServiceProvider Services(string app, int maxSize, FakeLogCollector logs)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs)));
        services.AddNpgsqlConnectionPool(o =>
        {
            o.ConnectionString = fixture.Server.GetConnectionString(app);
            o.Pool.MaxSize = maxSize; // AcquireTimeout stays at its 15 s default: the probe must not wait for it
        });
        services.AddHealthChecks().AddPoolKitNpgsql();
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
    public async Task Saturated_CallersWait_DegradedAtOnce()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), 1, logs);
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        PoolLease<NpgsqlConnection> held = await pool.AcquireAsync();
        Task<PoolLease<NpgsqlConnection>> waiter = pool.AcquireAsync().AsTask();
        await WaitUntilAsync(() => Task.FromResult(pool.GetStatistics().Waiting == 1), TimeSpan.FromSeconds(5), "a caller waits");

        (HealthReportEntry entry, TimeSpan took) = await RunAsync(sp);

        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("saturated", entry.Description);
        Assert.True(took < TimeSpan.FromSeconds(1), $"took {took}");
        held.Dispose();
        (await waiter.WaitAsync(Limit)).Dispose();
        Assert.Equal(0, pool.GetStatistics().TotalTimeouts);
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Level >= LogLevel.Warning && IsPoolKit(r));
    }
}
