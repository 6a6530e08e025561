using System.Transactions;
using Npgsql;
using PoolKit.Npgsql.Internal;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooling;

/// <summary>
/// Nothing of one lease reaches the next, on the lease API (the data source's is proven by the contract suite): the
/// reset undoes what it can and destroys a connection whose change it cannot undo, never turning a fast path off for
/// the whole process.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class LeaseIsolationTests(PostgresServerFixture fixture)
{
    [Fact]
    public async Task Acquire_ColdPoolInsideATransactionScope_ConnectionDoesNotEnlistAndTheProtocolStaysInSync()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        await using var admin = new NpgsqlConnection(fixture.Server.GetConnectionString(app + "_admin"));
        await admin.OpenAsync();
        string table = "lease_scope_" + Guid.NewGuid().ToString("N")[..8];
        await ScalarAsync(admin, $"CREATE TABLE {table} (v int)");
        try
        {
            using (new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
            {
                // The physical connection is created inside the scope: it must not enlist (Npgsql would queue a BEGIN
                // that the armed reset then swallows, and the next command read a desynchronised stream).
                await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
                Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1"));
                await ScalarAsync(lease.Resource, $"INSERT INTO {table} VALUES (1)");
                Assert.False(NpgsqlTransactionState.TryGetInTransaction(lease.Resource));
            }

            await using (PoolLease<NpgsqlConnection> next = await pool.AcquireAsync())
            {
                Assert.Equal(1, await ScalarAsync(next.Resource, "SELECT 1"));
            }

            // A lease is not enlisted: its INSERT autocommitted (the lease API never enlists; the data source refuses).
            Assert.Equal(1L, await ScalarAsync(admin, $"SELECT count(*) FROM {table}"));
            Assert.Equal(0, pool.GetStatistics().TotalDestroyed);
        }
        finally
        {
            await ScalarAsync(admin, $"DROP TABLE {table}");
        }
    }

    [Fact]
    public async Task LeaseResource_ClosedAndReopenedByItsUser_IsDestroyed_AndTheQueuedResetStaysOnForTheProcess()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        Assert.True(pool.Policy.QueuesResetWithNextCommand);
        int reopenedPid;
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await lease.Resource.CloseAsync();
            await lease.Resource.OpenAsync();
            reopenedPid = lease.Resource.ProcessID;
            await ScalarAsync(lease.Resource, "SET work_mem = '7MB'");
        }

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(1, stats.TotalDestroyed);
        Assert.True(NpgsqlPrependedReset.IsAvailable, "one user's reopen must not switch the queued reset off for every pool");
        Assert.True(pool.Policy.QueuesResetWithNextCommand);
        await using (PoolLease<NpgsqlConnection> next = await pool.AcquireAsync())
        {
            Assert.NotEqual(reopenedPid, next.Resource.ProcessID);
            Assert.Equal("4MB", await ScalarAsync(next.Resource, "SHOW work_mem"));
        }
    }

    [Theory]
    [InlineData(NpgsqlResetMode.None)]
    [InlineData(NpgsqlResetMode.RollbackOnly)]
    [InlineData(NpgsqlResetMode.Discard)]
    [InlineData(NpgsqlResetMode.DiscardOnReturn)]
    public async Task PreparedStatement_RunsOnTheNextLease_InEveryResetMode(NpgsqlResetMode mode)
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1, mode);
        for (int i = 0; i < 3; i++)
        {
            await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
            await using var command = new NpgsqlCommand("SELECT $1::int * 3", lease.Resource);
            command.Parameters.Add(new NpgsqlParameter { Value = i });
            await command.PrepareAsync();
            Assert.Equal(i * 3, await command.ExecuteScalarAsync());
        }

        Assert.Equal(1, (await QuietStatisticsAsync(pool)).TotalCreated);
    }

    [Theory]
    [InlineData(NpgsqlResetMode.Discard)]
    [InlineData(NpgsqlResetMode.DiscardOnReturn)]
    public async Task SqlPrepare_WithNothingPreparedByNpgsql_IsDeallocatedForTheNextLease(NpgsqlResetMode mode)
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1, mode);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, "PREPARE isolation_stmt AS SELECT 1");
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            Assert.Equal(0L, await ScalarAsync(lease.Resource, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'isolation_stmt'"));
        }
    }

    [Fact]
    public async Task Handlers_AddedDuringALease_AreRemovedOnReturn()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1, NpgsqlResetMode.RollbackOnly);
        int notices = 0;
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            lease.Resource.Notice += (_, _) => notices++;
            lease.Resource.Notification += (_, _) => notices++;
            await ScalarAsync(lease.Resource, "DO $$BEGIN RAISE NOTICE 'mine'; END$$");
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, "DO $$BEGIN RAISE NOTICE 'not yours'; END$$");
            await ScalarAsync(lease.Resource, "LISTEN isolation; NOTIFY isolation, 'not yours'");
            await ScalarAsync(lease.Resource, "UNLISTEN *");
        }

        Assert.Equal(1, notices);
    }

    [Fact]
    public async Task PhysicalConnectionInitializer_LeavingATransactionOpen_FailsTheCreationWithAClearError()
    {
        string app = AppName();
        var builder = new NpgsqlDataSourceBuilder(fixture.Server.GetConnectionString(app));
        builder.UsePhysicalConnectionInitializer(
            connection => new NpgsqlCommand("BEGIN", connection).ExecuteNonQuery(),
            async connection =>
            {
                await using var begin = new NpgsqlCommand("BEGIN", connection);
                await begin.ExecuteNonQueryAsync();
            });
        await using var pool = new NpgsqlConnectionPool(builder, new NpgsqlConnectionPoolOptions
        {
            Pool = new ConnectionPoolOptions { Name = app, MaxSize = 1, AcquireTimeout = TimeSpan.FromSeconds(2) },
        });

        Exception error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
        });

        Assert.Contains("UsePhysicalConnectionInitializer", Describe(error), StringComparison.Ordinal);
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 0, TimeSpan.FromSeconds(10), "the connection left in a transaction is closed");
    }

    private static string Describe(Exception error)
    {
        var text = new System.Text.StringBuilder();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            text.Append(e.GetType().Name).Append(": ").AppendLine(e.Message);
        }

        return text.ToString();
    }
}
