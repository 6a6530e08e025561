using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.DependencyInjection;

[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlConnectionPoolServiceCollectionExtensionsTests(PostgresServerFixture fixture)
{
    private const string Secret = "Sup3rSecretPw";

    [Fact]
    public async Task AddNpgsqlConnectionPool_FromConfiguration_NamedPoolsResolveAndAreDisposedWithTheContainer()
    {
        string app = AppName();
        IConfiguration config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Pools:orders:ConnectionString"] = fixture.Server.GetConnectionString(app),
            ["Pools:orders:ResetMode"] = "RollbackOnly",
            ["Pools:orders:Pool:MaxSize"] = "3",
            ["Pools:orders:Pool:MinSize"] = "1",
            ["Pools:orders:Pool:AcquireTimeout"] = "00:00:05",
        }).Build();
        var services = new ServiceCollection();
        services.AddNpgsqlConnectionPool("orders", config.GetSection("Pools:orders"));
        services.AddNpgsqlConnectionPool(o => o.ConnectionString = fixture.Server.GetConnectionString(app + "_default"));

        NpgsqlConnectionPool orders;
        await using (ServiceProvider sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }))
        {
            orders = sp.GetRequiredKeyedService<NpgsqlConnectionPool>("orders");
            Assert.Same(orders, sp.GetRequiredKeyedService<IConnectionPool<NpgsqlConnection>>("orders"));
            Assert.Equal("orders", orders.Name);
            Assert.Equal(3, orders.Options.MaxSize);
            Assert.Equal(NpgsqlResetMode.RollbackOnly, orders.ResetMode);
            Assert.Same(sp.GetRequiredService<NpgsqlConnectionPool>(), sp.GetRequiredService<IConnectionPool<NpgsqlConnection>>());
            Assert.Equal("default", sp.GetRequiredService<NpgsqlConnectionPool>().Name);
            await UseOnceAsync(orders).WaitAsync(Limit);
            Assert.True(await fixture.Server.CountBackendsAsync(app) >= 1);
        }

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await orders.AcquireAsync());
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 0, TimeSpan.FromSeconds(10), "the container's disposal closes the backends");
    }

    [Fact]
    public void ValidateOnStart_InvalidOptions_ReportsEveryViolationWithoutThePassword()
    {
        var services = new ServiceCollection();
        services.AddNpgsqlConnectionPool("bad", o =>
        {
            o.ConnectionString = $"Host=localhost;Password={Secret};Max Pool Size=9";
            o.Pool.MaxSize = 0;
            o.Pool.AcquireTimeout = TimeSpan.Zero;
        });
        using ServiceProvider sp = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IStartupValidator>().Validate());
        string all = string.Join("\n", ex.Failures);
        Assert.Contains("MaxSize", all);
        Assert.Contains("AcquireTimeout", all);
        Assert.Contains("Max Pool Size", all);
        Assert.DoesNotContain(Secret, all);
        Assert.DoesNotContain(Secret, ex.Message);
    }

    [Fact]
    public async Task HealthCheck_HealthyWhenServing_UnhealthyWhenUnreachable_NeverShowingThePassword()
    {
        var logs = new FakeLogCollector();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs)));
        services.AddNpgsqlConnectionPool("good", o => o.ConnectionString = fixture.Server.GetConnectionString(AppName()));
        services.AddNpgsqlConnectionPool("down", o =>
        {
            // A closed port: connection refused, at once.
            o.ConnectionString = $"Host=127.0.0.1;Port=1;Username=nobody;Password={Secret};Timeout=2";
            o.Pool.AcquireTimeout = TimeSpan.FromSeconds(3);
        });
        services.AddHealthChecks().AddPoolKitNpgsql("good").AddPoolKitNpgsql("down");
        await using ServiceProvider sp = services.BuildServiceProvider();

        HealthReport report = await sp.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(Limit);
        Assert.Equal(HealthStatus.Healthy, report.Entries["poolkit-npgsql-good"].Status);
        HealthReportEntry down = report.Entries["poolkit-npgsql-down"];
        Assert.Equal(HealthStatus.Unhealthy, down.Status);
        Assert.IsAssignableFrom<NpgsqlException>(down.Exception);

        NpgsqlConnectionPool downPool = sp.GetRequiredKeyedService<NpgsqlConnectionPool>("down");
        Exception acquireError = await Assert.ThrowsAnyAsync<Exception>(() => UseOnceAsync(downPool).WaitAsync(Limit));
        Assert.DoesNotContain(Secret, acquireError.ToString());
        Assert.DoesNotContain(Secret, down.Exception!.ToString());
        Assert.DoesNotContain(Secret, down.Description ?? "");
        Assert.DoesNotContain(Secret, downPool.ToString());
        Assert.NotEmpty(logs.GetSnapshot());
        Assert.All(logs.GetSnapshot(), r => Assert.DoesNotContain(Secret, r.Message + r.Exception));
        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == PoolEventIds.CreationFailed);
    }

    [Fact]
    public void AddNpgsqlConnectionPool_SameNameTwice_Throws()
    {
        var services = new ServiceCollection();
        services.AddNpgsqlConnectionPool("x", o => o.ConnectionString = "Host=localhost");
        Assert.Throws<InvalidOperationException>(() => services.AddNpgsqlConnectionPool("x"));
    }

    [Fact]
    public void Create_PoolingTrueInConnectionString_LogsOnceThatPoolingIsOff()
    {
        var logs = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        using var pool = new NpgsqlConnectionPool(
            new NpgsqlConnectionPoolOptions { ConnectionString = $"Host=localhost;Pooling=true;Password={Secret}" },
            factory);
        Assert.Single(logs.GetSnapshot(), r => r.Id.Id == NpgsqlPoolEventIds.NpgsqlPoolingDisabled);
        Assert.All(logs.GetSnapshot(), r => Assert.DoesNotContain(Secret, r.Message));
    }
}
