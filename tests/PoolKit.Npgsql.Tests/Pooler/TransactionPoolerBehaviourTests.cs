using Npgsql;
using NpgsqlTypes;
using Xunit.Abstractions;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooler;

/// <summary>
/// What works and what breaks through PgBouncer in transaction mode with PoolKit's default options, found for real:
/// two PoolKit pools (two application instances) share PgBouncer's single server connection.
/// </summary>
public sealed class TransactionPoolerBehaviourTests(PgBouncerFixture fixture, ITestOutputHelper output) : IClassFixture<PgBouncerFixture>
{
    private NpgsqlConnectionPool DefaultPool(string app, string? extra = null) => NpgsqlConnectionPool.Create(
        fixture.Bouncer.GetConnectionString(app) + (extra is null ? string.Empty : ";" + extra),
        new ConnectionPoolOptions { Name = app, MaxSize = 2, AcquireTimeout = TimeSpan.FromSeconds(10) });

    [Fact]
    public async Task DefaultDiscardReset_WorksButDoesNotIsolate_ASessionSetLeaksToAnotherInstance()
    {
        await using NpgsqlConnectionPool a = DefaultPool(AppName() + "a");
        await using NpgsqlConnectionPool b = DefaultPool(AppName() + "b");
        Assert.Equal(NpgsqlResetMode.Discard, a.ResetMode);

        await using (PoolLease<NpgsqlConnection> lease = await a.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, "SET statement_timeout = '4321ms'");
        }

        // A's reset is queued in front of A's next command; B's transaction gets the same server session first.
        await using (PoolLease<NpgsqlConnection> lease = await b.AcquireAsync())
        {
            Assert.Equal("4321ms", await ScalarAsync(lease.Resource, "SHOW statement_timeout"));
        }

        // The queued DISCARD ALL does run (through PgBouncer, in front of A's next command), and clears the server session.
        await using (PoolLease<NpgsqlConnection> lease = await a.AcquireAsync())
        {
            Assert.Equal("0", await ScalarAsync(lease.Resource, "SHOW statement_timeout"));
        }
    }

    [Fact]
    public async Task SetLocal_StaysInsideItsTransaction()
    {
        await using NpgsqlConnectionPool a = DefaultPool(AppName());
        await using PoolLease<NpgsqlConnection> lease = await a.AcquireAsync();
        await using (NpgsqlTransaction transaction = await lease.Resource.BeginTransactionAsync())
        {
            await ScalarAsync(lease.Resource, "SET LOCAL statement_timeout = '1234ms'");
            Assert.Equal("1234ms", await ScalarAsync(lease.Resource, "SHOW statement_timeout"));
            await transaction.CommitAsync();
        }

        Assert.Equal("0", await ScalarAsync(lease.Resource, "SHOW statement_timeout"));
    }

    [Fact]
    public async Task AutoPrepare_PreparedStatementMissingOnAnotherServerSession_Fails()
    {
        // Two server connections here: a statement prepared on one is missing when the next transaction lands on the other.
        await using PostgresBouncerPair pair = await PostgresBouncerPair.StartAsync(fixture, poolSize: 2);
        await using NpgsqlConnectionPool a = NpgsqlConnectionPool.Create(
            pair.Bouncer.GetConnectionString(AppName()) + ";Max Auto Prepare=5;Auto Prepare Min Usages=1",
            new ConnectionPoolOptions { MaxSize = 1 });
        await using NpgsqlConnectionPool b = NpgsqlConnectionPool.Create(pair.Bouncer.GetConnectionString(AppName() + "b"), new ConnectionPoolOptions { MaxSize = 1 });
        await using PoolLease<NpgsqlConnection> la = await a.AcquireAsync();
        Assert.Equal(1, await ScalarAsync(la.Resource, "SELECT 1"));

        // B holds the server session A prepared on (PgBouncer hands out the last released one first) in an open transaction.
        await using PoolLease<NpgsqlConnection> lb = await b.AcquireAsync();
        await using NpgsqlTransaction held = await lb.Resource.BeginTransactionAsync();
        await ScalarAsync(lb.Resource, "SELECT 2");

        PostgresException error = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(la.Resource, "SELECT 1"));
        output.WriteLine($"{error.SqlState}: {error.MessageText}");
        Assert.Equal(PostgresErrorCodes.InvalidSqlStatementName, error.SqlState);
    }

    [Fact]
    public async Task SessionAdvisoryLock_IsNotTheInstancesOwn_AnotherInstanceAcquiresItToo()
    {
        await using NpgsqlConnectionPool a = DefaultPool(AppName() + "a");
        await using NpgsqlConnectionPool b = DefaultPool(AppName() + "b");
        await using PoolLease<NpgsqlConnection> la = await a.AcquireAsync();
        await using PoolLease<NpgsqlConnection> lb = await b.AcquireAsync();
        Assert.Equal(true, await ScalarAsync(la.Resource, "SELECT pg_try_advisory_lock(4242)"));

        // Mutual exclusion is gone: B's session is the same server session, which already holds the lock.
        Assert.Equal(true, await ScalarAsync(lb.Resource, "SELECT pg_try_advisory_lock(4242)"));
        await ScalarAsync(la.Resource, "SELECT pg_advisory_unlock_all()");
    }

    [Fact]
    public async Task TransactionAdvisoryLock_ExcludesAnotherInstance()
    {
        await using PostgresBouncerPair pair = await PostgresBouncerPair.StartAsync(fixture, poolSize: 2);
        await using NpgsqlConnectionPool a = NpgsqlConnectionPool.Create(pair.Bouncer.GetConnectionString(AppName() + "a"), new ConnectionPoolOptions { MaxSize = 1 });
        await using NpgsqlConnectionPool b = NpgsqlConnectionPool.Create(pair.Bouncer.GetConnectionString(AppName() + "b"), new ConnectionPoolOptions { MaxSize = 1 });
        await using PoolLease<NpgsqlConnection> la = await a.AcquireAsync();
        await using PoolLease<NpgsqlConnection> lb = await b.AcquireAsync();
        await using NpgsqlTransaction ta = await la.Resource.BeginTransactionAsync();
        Assert.Equal(true, await ScalarAsync(la.Resource, "SELECT pg_try_advisory_xact_lock(4343)"));
        await using NpgsqlTransaction tb = await lb.Resource.BeginTransactionAsync();
        Assert.Equal(false, await ScalarAsync(lb.Resource, "SELECT pg_try_advisory_xact_lock(4343)"));
    }

    [Fact]
    public async Task Listen_NotificationNeverReachesTheListener()
    {
        await using NpgsqlConnectionPool a = DefaultPool(AppName() + "a");
        await using NpgsqlConnectionPool b = DefaultPool(AppName() + "b");
        await using PoolLease<NpgsqlConnection> la = await a.AcquireAsync();
        int received = 0;
        la.Resource.Notification += (_, _) => Interlocked.Increment(ref received);
        await ScalarAsync(la.Resource, "LISTEN poolkit_channel");
        await using (PoolLease<NpgsqlConnection> lb = await b.AcquireAsync())
        {
            await ScalarAsync(lb.Resource, "NOTIFY poolkit_channel, 'hello'");
        }

        bool arrived = await la.Resource.WaitAsync(TimeSpan.FromSeconds(1));
        Assert.False(arrived, "a notification arrived through PgBouncer in transaction mode");
        Assert.Equal(0, received);
    }

    [Fact]
    public async Task CopyAndNpgsqlBatch_Work()
    {
        await using NpgsqlConnectionPool a = DefaultPool(AppName());
        await using PoolLease<NpgsqlConnection> lease = await a.AcquireAsync();
        string table = "copy_" + Guid.NewGuid().ToString("N")[..8];
        await ScalarAsync(lease.Resource, $"CREATE TABLE {table} (id int primary key)");
        await using (NpgsqlBinaryImporter importer = await lease.Resource.BeginBinaryImportAsync($"COPY {table} (id) FROM STDIN (FORMAT BINARY)"))
        {
            for (int i = 0; i < 100; i++)
            {
                await importer.StartRowAsync();
                await importer.WriteAsync(i, NpgsqlDbType.Integer);
            }

            await importer.CompleteAsync();
        }

        await using (NpgsqlBatch batch = new(lease.Resource) { BatchCommands = { new($"INSERT INTO {table} VALUES (100)"), new($"INSERT INTO {table} VALUES (101)"), new($"INSERT INTO {table} VALUES (0)") } })
        {
            await Assert.ThrowsAsync<PostgresException>(() => batch.ExecuteNonQueryAsync());
        }

        // The failing batch was one implicit transaction: none of its rows stayed.
        Assert.Equal(100L, await ScalarAsync(lease.Resource, $"SELECT count(*) FROM {table}"));
    }
}
