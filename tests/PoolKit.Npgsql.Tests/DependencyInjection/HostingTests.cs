using System.Data.Common;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.DependencyInjection;

/// <summary>Pools in a generic host: built and warmed at start, waited for on request, configured from ConnectionStrings.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class HostingTests(PostgresServerFixture fixture)
{
    private static IHost Build(Action<HostApplicationBuilder> configure, FakeLogCollector? logs = null)
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        if (logs is not null)
        {
            builder.Logging.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs));
        }

        configure(builder);
        return builder.Build();
    }

    [Fact]
    public async Task HostStart_BuildsThePoolFromConnectionStringsAndWarmsUpWithoutAnyRequest()
    {
        string app = AppName();
        using IHost host = Build(b =>
        {
            b.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:orders"] = fixture.Server.GetConnectionString(app) });
            b.Services.AddNpgsqlConnectionPool("orders", o => o.Pool.MinSize = 2);
        });

        Assert.Equal(0, await fixture.Server.CountBackendsAsync(app));
        await host.StartAsync().WaitAsync(Limit);
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 2, TimeSpan.FromSeconds(10), "the pool warmed up to MinSize at start");

        DbDataSource ds = host.Services.GetRequiredKeyedService<DbDataSource>("orders");
        await using (DbConnection conn = await ds.OpenConnectionAsync())
        {
            Assert.Equal(System.Data.ConnectionState.Open, conn.State);
        }

        await host.StopAsync().WaitAsync(Limit);
    }

    [Fact]
    public async Task StartupTimeout_HealthyServer_StartReturnsWithMinSizeOpen()
    {
        string app = AppName();
        using IHost host = Build(b => b.Services.AddNpgsqlConnectionPool(o =>
        {
            o.ConnectionString = fixture.Server.GetConnectionString(app);
            o.Pool.MinSize = 3;
            o.StartupTimeout = TimeSpan.FromSeconds(10);
        }));

        await host.StartAsync().WaitAsync(Limit);
        PoolStatistics stats = host.Services.GetRequiredService<NpgsqlConnectionPool>().GetStatistics();
        Assert.True(stats.Idle + stats.Leased >= 3, stats.ToString());
        Assert.True(await fixture.Server.CountBackendsAsync(app) >= 3);
        await host.StopAsync().WaitAsync(Limit);
    }

    [Fact]
    public async Task StartupTimeout_BadPassword_FailsTheStartAtOnceWithTheServersError()
    {
        string app = AppName();
        var settings = new NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(app)) { Password = "wrong-password" };
        using IHost host = Build(b => b.Services.AddNpgsqlConnectionPool(o =>
        {
            o.ConnectionString = settings.ConnectionString;
            o.StartupTimeout = TimeSpan.FromSeconds(20);
        }));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<PostgresException>(() => host.StartAsync().WaitAsync(Limit));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, error.SqlState);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task StartupTimeout_UnreachableServer_FailsTheStartWithinTheTimeout()
    {
        using IHost host = Build(b => b.Services.AddNpgsqlConnectionPool(o =>
        {
            o.ConnectionString = "Host=127.0.0.1;Port=1;Username=nobody;Password=Secret123;Timeout=1";
            o.StartupTimeout = TimeSpan.FromSeconds(1.5);
        }));

        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync().WaitAsync(Limit));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.4), TimeSpan.FromSeconds(6));
        Assert.Contains("StartupTimeout", error.Message);
        NpgsqlException inner = Assert.IsAssignableFrom<NpgsqlException>(error.InnerException);
        Assert.True(inner.IsTransient);
        Assert.DoesNotContain("Secret123", error.ToString());
    }

    [Fact]
    public async Task DefaultAndNamedPools_ResolveKeyedAndUnkeyed_AndNpgsqlLogsGoToTheAppsLoggerFactory()
    {
        string app = AppName();
        var logs = new FakeLogCollector();
        using IHost host = Build(
            b =>
            {
                b.Services.AddNpgsqlConnectionPool(o => o.ConnectionString = fixture.Server.GetConnectionString(app));
                b.Services.AddNpgsqlConnectionPool("reports", o => o.ConnectionString = fixture.Server.GetConnectionString(app + "r"));
            },
            logs);
        await host.StartAsync().WaitAsync(Limit);

        var unkeyed = host.Services.GetRequiredService<PoolKitDataSource>();
        Assert.Same(host.Services.GetRequiredService<NpgsqlConnectionPool>(), unkeyed.Pool);
        Assert.Same(unkeyed, host.Services.GetRequiredService<DbDataSource>());
        Assert.Same(unkeyed, host.Services.GetRequiredKeyedService<DbDataSource>(NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName));
        var reports = host.Services.GetRequiredKeyedService<PoolKitDataSource>("reports");
        Assert.Equal("reports", reports.Pool.Name);
        Assert.NotSame(unkeyed, reports);

        await using (DbConnection conn = await reports.OpenConnectionAsync())
        {
            Assert.Equal(System.Data.ConnectionState.Open, conn.State);
        }

        Assert.Contains(logs.GetSnapshot(), r => r.Category is not null && r.Category.StartsWith("Npgsql", StringComparison.Ordinal));
        await host.StopAsync().WaitAsync(Limit);
    }

    private sealed class Widget
    {
        public int Id { get; init; }
    }

    private sealed class WidgetPolicy : ResourcePolicy<Widget>
    {
        private int _created;

        public int Created => Volatile.Read(ref _created);

        public override ValueTask<Widget> CreateAsync(CancellationToken cancellationToken) =>
            new(new Widget { Id = Interlocked.Increment(ref _created) });
    }

    [Fact]
    public async Task AddConnectionPool_AnyResource_BuiltAndWarmedAtStart_KeyedAndDefault()
    {
        var policy = new WidgetPolicy();
        var other = new WidgetPolicy();
        using IHost host = Build(b =>
        {
            b.Services.AddConnectionPool(_ => policy, o => { o.MinSize = 2; o.MaxSize = 4; });
            b.Services.AddConnectionPool<Widget>("other", _ => other).Configure(o => o.MaxSize = 1);
        });

        await host.StartAsync().WaitAsync(Limit);
        await WaitUntilAsync(() => Task.FromResult(policy.Created == 2), TimeSpan.FromSeconds(10), "the default pool warmed up at start");

        IConnectionPool<Widget> pool = host.Services.GetRequiredService<IConnectionPool<Widget>>();
        Assert.Equal(NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName, pool.Name);
        await using (PoolLease<Widget> lease = await pool.AcquireAsync())
        {
            Assert.InRange(lease.Resource.Id, 1, 2);
        }

        ConnectionPool<Widget> named = host.Services.GetRequiredKeyedService<ConnectionPool<Widget>>("other");
        Assert.Equal(1, named.Options.MaxSize);
        await using (PoolLease<Widget> lease = await named.AcquireAsync())
        {
            Assert.Equal(1, other.Created);
        }

        await host.StopAsync().WaitAsync(Limit);
    }
}
