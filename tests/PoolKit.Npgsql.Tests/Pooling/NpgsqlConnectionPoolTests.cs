using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooling;

[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlConnectionPoolTests(PostgresServerFixture fixture)
{
    [Fact]
    public async Task AcquireAsync_64ConcurrentTasks_ServerNeverSeesMoreBackendsThanMaxSize()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 5, NpgsqlResetMode.RollbackOnly);
        using var done = new CancellationTokenSource();
        int maxSeen = 0;
        Task sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                maxSeen = Math.Max(maxSeen, await fixture.Server.CountBackendsAsync(app));
                await Task.Delay(5);
            }
        });

        Task[] workers = Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 10; i++)
            {
                await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
                Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1 FROM pg_sleep(0.002)"));
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(Limit);
        done.Cancel();
        await sampler.WaitAsync(Limit);

        Assert.InRange(maxSeen, 1, 5);
        Assert.InRange(await fixture.Server.CountBackendsAsync(app), 1, 5);
        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(0, stats.Leased);
        Assert.True(stats.Live <= 5);
    }

    [Fact]
    public async Task Constructor_MinSize_WarmsUpToMinSizeBackends()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => { o.MinSize = 3; o.MaxSize = 6; });
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 3, TimeSpan.FromSeconds(10), "3 backends exist");
        Assert.Equal(3, pool.GetStatistics().Idle);
    }

    [Fact]
    public async Task Maintenance_IdleTimeout_ClosesBackendsDownToMinSize()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o =>
        {
            o.MinSize = 1;
            o.MaxSize = 6;
            o.IdleTimeout = TimeSpan.FromMilliseconds(300);
            o.MaintenanceInterval = TimeSpan.FromMilliseconds(100);
        });
        var leases = new List<PoolLease<NpgsqlConnection>>();
        for (int i = 0; i < 5; i++)
        {
            leases.Add(await pool.AcquireAsync().AsTask().WaitAsync(Limit));
        }

        Assert.Equal(5, await fixture.Server.CountBackendsAsync(app));
        foreach (PoolLease<NpgsqlConnection> lease in leases)
        {
            await lease.DisposeAsync();
        }

        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 1, TimeSpan.FromSeconds(10), "idle backends are pruned to MinSize");
        Assert.Equal(1, pool.GetStatistics().Live);
    }

    [Fact]
    public async Task Maintenance_MaxLifetime_ReplacesBackends()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o =>
        {
            o.MinSize = 2;
            o.MaxSize = 2;
            o.MaxLifetime = TimeSpan.FromMilliseconds(600);
            o.MaxLifetimeJitter = TimeSpan.Zero;
            o.MaintenanceInterval = TimeSpan.FromMilliseconds(100);
        });
        await WaitUntilAsync(async () => (await BackendPidsAsync(fixture.Server, app)).Length == 2, TimeSpan.FromSeconds(10), "2 backends exist");
        int[] first = await BackendPidsAsync(fixture.Server, app);

        await WaitUntilAsync(
            async () => { int[] now = await BackendPidsAsync(fixture.Server, app); return now.Length == 2 && !now.Intersect(first).Any(); },
            TimeSpan.FromSeconds(10),
            "both backends are replaced");
        await UseOnceAsync(pool).WaitAsync(Limit);
    }

    [Fact]
    public async Task Create_ConnectionStringWithPoolingKeywords_RejectsNamingTheOptionAndHidingThePassword()
    {
        string cs = fixture.Server.GetConnectionString(AppName()) + ";Max Pool Size=7;MinPoolSize=1;Password=Sup3rSecretPw";
        var ex = Assert.Throws<ConnectionPoolOptionsException>(() => NpgsqlConnectionPool.Create(cs));
        Assert.Contains("Max Pool Size", ex.Message);
        Assert.Contains("ConnectionPoolOptions.MaxSize", ex.Message);
        Assert.Contains("Min Pool Size", ex.Message);
        Assert.DoesNotContain("Sup3rSecretPw", ex.Message);
    }

    [Fact]
    public async Task Create_PoolingTrue_TurnsNpgsqlPoolingOffSoBackendsCloseWithThePool()
    {
        string app = AppName();
        await using (var pool = NpgsqlConnectionPool.Create(fixture.Server.GetConnectionString(app, pooling: true), new ConnectionPoolOptions { Name = app }))
        {
            await UseOnceAsync(pool).WaitAsync(Limit);
            Assert.Equal(1, await fixture.Server.CountBackendsAsync(app));
        }

        // With Npgsql pooling left on, disposing PoolKit's connections would park them in Npgsql's pool instead.
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 0, TimeSpan.FromSeconds(10), "the backend is closed");
    }

    [Fact]
    public void ToString_NamesPoolAndServerButNotThePassword()
    {
        var builder = new NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString("tostring")) { Password = "Sup3rSecretPw" };
        using var pool = NpgsqlConnectionPool.Create(builder.ConnectionString, new ConnectionPoolOptions { Name = "orders" });
        string text = pool.ToString();
        Assert.Contains("'orders'", text);
        Assert.Contains(fixture.Server.Host, text);
        Assert.DoesNotContain("Sup3rSecretPw", text);
    }
}
