using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using PoolKit.Testing;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Faults;

/// <summary>The health check through an outage: Unhealthy while down, Degraded after failures, Healthy again, bounded when frozen.</summary>
public sealed class HealthCheckOutageTests(DedicatedServerFixture fixture) : IClassFixture<DedicatedServerFixture>
{
    private const string Check = "poolkit-npgsql-default";

    private PostgresTestServer Server => fixture.Server;

    private ServiceProvider Services(string app, FakeLogCollector logs, TimeSpan? probeTimeout = null)
    {
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs)));
        services.AddNpgsqlConnectionPool(o =>
        {
            o.ConnectionString = Server.GetConnectionString(app);
            o.Pool.MaxSize = 3;
            o.Pool.CreationBackoffInitial = TimeSpan.FromMilliseconds(50);
            o.Pool.CreationBackoffMax = TimeSpan.FromMilliseconds(200);
        });
        services.AddHealthChecks().AddPoolKitNpgsql(probeTimeout: probeTimeout);
        return services.BuildServiceProvider();
    }

    private static async Task<(HealthReportEntry Entry, TimeSpan Took)> RunAsync(IServiceProvider sp)
    {
        var clock = Stopwatch.StartNew();
        HealthReport report = await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(Limit);
        return (report.Entries[Check], clock.Elapsed);
    }

    [Fact]
    public async Task Outage_UnhealthyWhileDown_DegradedOnceAfterRecovery_ThenHealthy()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), logs);
        Assert.Equal(HealthStatus.Healthy, (await RunAsync(sp)).Entry.Status);
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        await pool.ClearAsync();
        try
        {
            await Server.StopAsync().WaitAsync(Limit);
            (HealthReportEntry down, TimeSpan took) = await RunAsync(sp);
            Assert.Equal(HealthStatus.Unhealthy, down.Status);
            Assert.IsAssignableFrom<NpgsqlException>(down.Exception);
            Assert.True(took < TimeSpan.FromSeconds(4), $"took {took}");
        }
        finally
        {
            await Server.StartAgainAsync().WaitAsync(Limit);
        }

        HealthStatus afterRecovery = HealthStatus.Unhealthy;
        await WaitUntilAsync(
            async () => (afterRecovery = (await RunAsync(sp)).Entry.Status) != HealthStatus.Unhealthy,
            TimeSpan.FromSeconds(10),
            "the check sees the database again");
        Assert.Equal(HealthStatus.Degraded, afterRecovery);
        Assert.Equal(HealthStatus.Healthy, (await RunAsync(sp)).Entry.Status);
        Assert.Equal(0, pool.GetStatistics().TotalTimeouts);
    }

    [Fact]
    public async Task Frozen_ProbeIsBoundedByItsTimeout_NotByAcquireTimeout_AndCountsNoTimeout()
    {
        var logs = new FakeLogCollector();
        await using ServiceProvider sp = Services(AppName(), logs, probeTimeout: TimeSpan.FromSeconds(1));
        NpgsqlConnectionPool pool = sp.GetRequiredService<NpgsqlConnectionPool>();
        try
        {
            await Server.FreezeAsync().WaitAsync(Limit);
            (HealthReportEntry entry, TimeSpan took) = await RunAsync(sp);
            Assert.Equal(HealthStatus.Unhealthy, entry.Status);
            Assert.Contains("did not answer within 1 s", entry.Description);
            Assert.InRange(took, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(2.5));
            Assert.Equal(0, pool.GetStatistics().TotalTimeouts);
            Assert.DoesNotContain(logs.GetSnapshot(), r => r.Id.Id == PoolEventIds.PoolExhausted);
        }
        finally
        {
            await Server.ThawAsync().WaitAsync(Limit);
        }
    }
}
