using System.Data;
using Npgsql;
using PoolKit.Testing;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.DataSource;

/// <summary>
/// The raw Npgsql connection a <see cref="PoolKitDbConnection"/> hands out (<see cref="PoolKitDbConnection.NpgsqlConnection"/>):
/// valid for one open, reusing the pooled session, and never reaching the next user's session once kept.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PoolKitDbConnectionRawReferenceTests(PostgresServerFixture fixture)
{
    private NpgsqlConnectionPool Pool(string app, int maxSize = 1) =>
        new(new NpgsqlConnectionPoolOptions
        {
            ConnectionString = fixture.Server.GetConnectionString(app),
            Pool = new ConnectionPoolOptions { Name = app, MaxSize = maxSize, AcquireTimeout = TimeSpan.FromSeconds(10) },
        });

    [Fact]
    public async Task NpgsqlConnection_ReadInEveryOpen_ReusesTheServerSessionAndDestroysNothing()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app);
        var dataSource = new PoolKitDataSource(pool);
        var pids = new HashSet<int>();
        for (int i = 0; i < 20; i++)
        {
            await using PoolKitDbConnection connection = await dataSource.OpenConnectionAsync();
            NpgsqlConnection raw = connection.NpgsqlConnection;
            Assert.Same(raw, connection.NpgsqlConnection);
            pids.Add((int)(await ScalarAsync(raw, "SELECT pg_backend_pid()"))!);
        }

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Single(pids);
        Assert.Equal(1, stats.TotalCreated);
        Assert.Equal(0, stats.TotalDestroyed);
        Assert.Equal(0, pool.ClosedByCaller);
        Assert.Equal(1, await fixture.Server.CountBackendsAsync(app));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task KeptNpgsqlCommand_AfterClose_ThrowsAndTheNextUsersSessionIsUntouched(bool readBeforeExecuting)
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app);
        var dataSource = new PoolKitDataSource(pool);
        PoolKitDbConnection first = await dataSource.OpenConnectionAsync();
        string initial;
        await using (PoolKitDbCommand read = first.CreateCommand())
        {
            // Through the PoolKit command: reading first.NpgsqlConnection would lend the session before the test does.
            read.CommandText = "SHOW work_mem";
            initial = (string)(await read.ExecuteScalarAsync())!;
        }

        PoolKitDbCommand command = first.CreateCommand();
        command.CommandText = "SET work_mem = '7MB'";
        NpgsqlCommand? kept = readBeforeExecuting ? command.NpgsqlCommand : null;
        await command.ExecuteNonQueryAsync();
        await using (PoolKitDbCommand reset = first.CreateCommand())
        {
            reset.CommandText = "RESET work_mem";
            await reset.ExecuteNonQueryAsync();
        }

        await first.CloseAsync();
        kept ??= command.NpgsqlCommand;

        await using PoolKitDbConnection second = await dataSource.OpenConnectionAsync();
        Assert.ThrowsAny<InvalidOperationException>(() => kept.ExecuteNonQuery());
        await using var show = new NpgsqlCommand("SHOW work_mem", second.NpgsqlConnection);
        Assert.Equal(initial, await show.ExecuteScalarAsync());
        Assert.Equal(1, await fixture.Server.CountBackendsAsync(app));
    }

    [Fact]
    public async Task NpgsqlConnection_HandoverUnavailable_KeptReferenceThrowsAndTheSessionIsDestroyed()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app);
        var dataSource = new PoolKitDataSource(pool);
        PoolKitDbConnection first = dataSource.CreateConnection();
        first.HandoverDisabled = true;
        await first.OpenAsync();
        NpgsqlConnection kept = first.NpgsqlConnection;
        int firstPid = (int)(await ScalarAsync(kept, "SELECT pg_backend_pid()"))!;
        await first.CloseAsync();

        await using PoolKitDbConnection second = await dataSource.OpenConnectionAsync();
        await using var pid = new NpgsqlCommand("SELECT pg_backend_pid()", second.NpgsqlConnection);
        Assert.NotEqual(firstPid, (int)(await pid.ExecuteScalarAsync())!);
        Assert.Equal(ConnectionState.Closed, kept.State);
        await using var command = new NpgsqlCommand("SET work_mem = '7MB'", kept);
        Assert.ThrowsAny<InvalidOperationException>(() => command.ExecuteNonQuery());

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(1, stats.DestroyedBy.Broken);
        Assert.Equal(1, await fixture.Server.CountBackendsAsync(app));
    }

    [Fact]
    public async Task NpgsqlConnection_ClosedByItsCaller_IsDestroyedCountedAndReplaced()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app);
        var dataSource = new PoolKitDataSource(pool);
        await using (PoolKitDbConnection first = await dataSource.OpenConnectionAsync())
        {
            await first.NpgsqlConnection.CloseAsync();
            Assert.Equal(ConnectionState.Closed, first.State);
        }

        await using PoolKitDbConnection second = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await ScalarAsync(second.NpgsqlConnection, "SELECT 1"));
        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(1, pool.ClosedByCaller);
        Assert.Equal(1, stats.DestroyedBy.ClosedByCaller);
        Assert.Equal(1, await fixture.Server.CountBackendsAsync(app));
    }

    [Fact]
    public async Task NpgsqlConnection_ReopenedOnAnotherDatabaseByItsCaller_ThatSessionIsClosedAndThePooledOneDestroyed()
    {
        await using TestDatabase other = await fixture.Server.CreateDatabaseAsync();
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app);
        var dataSource = new PoolKitDataSource(pool);
        string database = fixture.Server.CreateConnectionStringBuilder().Database!;
        NpgsqlConnection kept;
        await using (PoolKitDbConnection first = await dataSource.OpenConnectionAsync())
        {
            kept = first.NpgsqlConnection;
            kept.ChangeDatabase(other.Name);
            Assert.Equal(other.Name, await ScalarAsync(kept, "SELECT current_database()"));
        }

        Assert.Equal(ConnectionState.Closed, kept.State);
        await using PoolKitDbConnection second = await dataSource.OpenConnectionAsync();
        Assert.Equal(database, await ScalarAsync(second.NpgsqlConnection, "SELECT current_database()"));
        Assert.Equal(1, await fixture.Server.CountBackendsAsync(app));
    }

    [Fact]
    public async Task NpgsqlConnection_SessionTerminatedWhileLent_ReadsClosedReportsStateChangeAndIsDestroyed()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app);
        var dataSource = new PoolKitDataSource(pool);
        await using PoolKitDbConnection connection = await dataSource.OpenConnectionAsync();
        var changes = new List<(ConnectionState From, ConnectionState To)>();
        connection.StateChange += (_, e) => changes.Add((e.OriginalState, e.CurrentState));
        NpgsqlConnection raw = connection.NpgsqlConnection;
        Assert.Equal(1, await fixture.Server.TerminateBackendsAsync(app));

        await Assert.ThrowsAnyAsync<Exception>(() => ScalarAsync(raw, "SELECT 1"));
        Assert.Equal(ConnectionState.Closed, connection.State);
        Assert.Equal([(ConnectionState.Open, ConnectionState.Closed)], changes);

        // Opening again returns the dead session (destroyed as broken) and leases another.
        await connection.OpenAsync();
        Assert.Equal(1, await ScalarAsync(connection.NpgsqlConnection, "SELECT 1"));
        await connection.CloseAsync();
        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(1, stats.DestroyedBy.Broken);
    }
}
