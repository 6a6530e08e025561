using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooling;

/// <summary>Resize and pause of a live pool, as the server sees it (pg_stat_activity), under load.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class RuntimeSizingTests(PostgresServerFixture fixture)
{
    [Fact]
    public async Task Resize_UnderLoad_ServerSessionsFollowTheNewMaximum()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 8, NpgsqlResetMode.RollbackOnly);
        int maxAllowed = 8;
        int violations = 0;
        string? violation = null;
        using var stop = new CancellationTokenSource();
        long served = 0;

        Task[] workers = Enumerable.Range(0, 24).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
                Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1 FROM pg_sleep(0.003)"));
                Interlocked.Increment(ref served);
            }
        })).ToArray();

        // Grown: the server sees the new maximum in use.
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 8, Limit, "8 sessions under load");

        // Shrunk under load: sessions fall to 3 as leases come back, none is taken from its lessee.
        pool.Resize(0, 3);
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 3, Limit, "sessions fall to the new maximum of 3");
        Volatile.Write(ref maxAllowed, 3);
        Task sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                int limit = Volatile.Read(ref maxAllowed);
                int seen = await fixture.Server.CountBackendsAsync(app);
                if (seen > limit && Volatile.Read(ref maxAllowed) == limit)
                {
                    Interlocked.Increment(ref violations);
                    violation = $"{seen} sessions with MaxSize {limit}";
                }

                await Task.Delay(5);
            }
        });
        await Task.Delay(300);

        // Grown again: waiters are served by new sessions at once.
        Volatile.Write(ref maxAllowed, 6);
        pool.Resize(0, 6);
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 6, Limit, "sessions grow to the new maximum of 6");

        // Paused: nothing is handed out, the leases out come back.
        pool.Pause();
        long before = Interlocked.Read(ref served);
        await WaitUntilAsync(() => Task.FromResult(pool.GetStatistics().Leased == 0), Limit, "every lease back while paused");
        long afterPause = Interlocked.Read(ref served);
        await Task.Delay(200);
        Assert.Equal(afterPause, Interlocked.Read(ref served));
        Assert.True(afterPause - before <= 6, $"at most the 6 leases out finished while paused, not {afterPause - before}");
        Assert.Equal(24, pool.GetStatistics().Waiting);
        pool.Resume();
        await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref served) > afterPause + 100), Limit, "work resumes");

        stop.Cancel();
        await Task.WhenAll(workers).WaitAsync(Limit);
        await sampler.WaitAsync(Limit);
        Assert.True(violations == 0, violation);

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(0, stats.Leased);
        Assert.True(stats.Live <= 6);
        Assert.Equal(stats.Live, await fixture.Server.CountBackendsAsync(app));
        Assert.True(stats.DestroyedBy.Resized >= 5, $"5 sessions closed by the shrink: {stats.DestroyedBy}");
    }

    [Fact]
    public async Task DataSource_PoolResizeAndPause_ControlTheDataSourcesSessions()
    {
        string app = AppName();
        await using var dataSource = new PoolKitDataSource(CreatePool(fixture.Server, app, o => o.MaxSize = 4), ownsPool: true);
        var open = new List<PoolKitDbConnection>();
        for (int i = 0; i < 4; i++)
        {
            open.Add(await dataSource.OpenConnectionAsync());
        }

        Assert.Equal(4, await fixture.Server.CountBackendsAsync(app));
        dataSource.Pool.Resize(0, 2);
        foreach (PoolKitDbConnection connection in open)
        {
            await connection.DisposeAsync();
        }

        Assert.Equal(2, await fixture.Server.CountBackendsAsync(app));

        dataSource.Pool.Pause();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await dataSource.OpenConnectionAsync(cts.Token));
        dataSource.Pool.Resume();
        await using PoolKitDbConnection again = await dataSource.OpenConnectionAsync();
        Assert.Equal(2, await fixture.Server.CountBackendsAsync(app));
    }
}
