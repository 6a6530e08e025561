using System.Data.Common;
using Dapper;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Integration;

/// <summary>Dapper on the data source's connections, open and closed, with a transaction.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class DapperTests(PostgresServerFixture fixture)
{
    private sealed record Item(int Id, string Name);

    private PoolKitDataSource DataSource(string app, int maxSize = 2) =>
        PoolKitDataSource.Create(fixture.Server.GetConnectionString(app), new ConnectionPoolOptions { Name = app, MaxSize = maxSize, AcquireTimeout = TimeSpan.FromSeconds(10) });

    [Fact]
    public async Task Dapper_OnClosedAndOpenConnections_QueriesAndReusesSessions()
    {
        string app = AppName();
        await using PoolKitDataSource ds = DataSource(app);

        // Closed: Dapper creates the command, opens, reads and closes the connection itself.
        for (int i = 0; i < 10; i++)
        {
            await using DbConnection closed = ds.CreateConnection();
            Assert.Equal(i, await closed.ExecuteScalarAsync<int>("SELECT @i", new { i }));
            List<Item> items = (await closed.QueryAsync<Item>("SELECT g AS Id, 'n' || g AS Name FROM generate_series(1, @n) g", new { n = 3 })).AsList();
            Assert.Equal([new Item(1, "n1"), new Item(2, "n2"), new Item(3, "n3")], items);
            Assert.Equal(System.Data.ConnectionState.Closed, closed.State);
        }

        // Open, the NpgsqlDataSource habit.
        await using (DbConnection open = await ds.OpenConnectionAsync())
        {
            Assert.Equal("x", await open.QuerySingleAsync<string>("SELECT 'x'"));
            using var reader = await open.ExecuteReaderAsync("SELECT 1");
            Assert.True(reader.Read());
        }

        PoolStatistics stats = await QuietStatisticsAsync(ds.Pool);
        Assert.InRange(stats.TotalCreated, 1, 2);
        Assert.Equal(0, stats.TotalDestroyed);
        Assert.Equal(0, ds.Pool.ClosedByCaller);
        Assert.InRange(await fixture.Server.CountBackendsAsync(app), 1, 2);
    }

    [Fact]
    public async Task Dapper_Transaction_CommitsAndRollsBack()
    {
        string app = AppName();
        await using PoolKitDataSource ds = DataSource(app, maxSize: 1);
        string table = "dapper_" + Guid.NewGuid().ToString("N")[..12];
        await using (DbConnection conn = await ds.OpenConnectionAsync())
        {
            await conn.ExecuteAsync($"CREATE TABLE {table} (id int PRIMARY KEY, name text)");
            await using (DbTransaction tx = await conn.BeginTransactionAsync())
            {
                Assert.IsType<NpgsqlTransaction>(Assert.IsType<PoolKitDbTransaction>(tx).NpgsqlTransaction);
                await conn.ExecuteAsync($"INSERT INTO {table} VALUES (@Id, @Name)", new[] { new Item(1, "a"), new Item(2, "b") }, tx);
                await tx.CommitAsync();
            }

            await using (DbTransaction tx = await conn.BeginTransactionAsync())
            {
                await conn.ExecuteAsync($"INSERT INTO {table} VALUES (3, 'c')", transaction: tx);
                await tx.RollbackAsync();
            }
        }

        await using (DbConnection conn = await ds.OpenConnectionAsync())
        {
            Assert.Equal(2L, await conn.ExecuteScalarAsync<long>($"SELECT count(*) FROM {table}"));
            await conn.ExecuteAsync($"DROP TABLE {table}");
        }
    }

    [Fact]
    public async Task Dapper_Synchronous_OpenQueryAndDisposeReturnTheConnection()
    {
        string app = AppName();
        await using PoolKitDataSource ds = DataSource(app, maxSize: 1);
        for (int i = 0; i < 5; i++)
        {
            using DbConnection conn = ds.OpenConnection();
            Assert.Equal(i, conn.QuerySingle<int>("SELECT @i", new { i }));
        }

        using (DbConnection closed = ds.CreateConnection())
        {
            Assert.Equal(7, closed.ExecuteScalar<int>("SELECT 7"));
        }

        PoolStatistics stats = await QuietStatisticsAsync(ds.Pool);
        Assert.Equal(1, stats.TotalCreated);
        Assert.Equal(0, stats.TotalDestroyed);
    }
}
