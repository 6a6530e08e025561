using Npgsql;
using PoolKit.Testing;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooling;

/// <summary>A leased connection its caller closed is counted by the core as closed by caller, not as a failed reset (issue 19, defect 11).</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class ClosedByCallerTests(PostgresServerFixture fixture)
{
    private PostgresTestServer Server => fixture.Server;

    [Fact]
    public async Task LeaseWhoseConnectionTheCallerDisposed_CountedAsClosedByCallerInThePoolsStatistics()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(Server, app);
        for (int i = 0; i < 3; i++)
        {
            await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
            await using NpgsqlConnection conn = lease.Resource;
            Assert.Equal(1, await ScalarAsync(conn, "SELECT 1"));
        }

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(3, pool.ClosedByCaller);
        Assert.Equal(3, stats.DestroyedBy.ClosedByCaller);
        Assert.Equal(0, stats.DestroyedBy.ResetFailed);
    }
}
