using System.Data;
using Npgsql;
using PoolKit.Npgsql.Internal;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooling;

[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlConnectionPolicyTests(PostgresServerFixture fixture)
{
    private const string Dirty = """
        SET work_mem = '7MB';
        CREATE TEMP TABLE leaked (id int);
        PREPARE leaked_stmt AS SELECT 42;
        SELECT pg_advisory_lock(4242);
        """;

    [Fact]
    public void TransactionState_ThisNpgsqlVersion_IsReadInProcess()
    {
        // If this fails after an Npgsql upgrade, RollbackOnly and Discard fall back to a round trip per return.
        using var connection = new NpgsqlConnection(fixture.Server.GetConnectionString(AppName()));
        connection.Open();
        Assert.False(NpgsqlTransactionState.TryGetInTransaction(connection));
        using (NpgsqlTransaction tx = connection.BeginTransaction())
        {
            Assert.True(NpgsqlTransactionState.TryGetInTransaction(connection));
        }

        Assert.False(NpgsqlTransactionState.TryGetInTransaction(connection));
        using (var begin = new NpgsqlCommand("BEGIN", connection))
        {
            begin.ExecuteNonQuery();
        }

        Assert.True(NpgsqlTransactionState.TryGetInTransaction(connection));
        Assert.True(NpgsqlTransactionState.IsAvailable);
    }

    [Fact]
    public async Task ResetAsync_Discard_NextLeaseSeesNoSessionStateOrTransaction()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        int pid;
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            pid = lease.Resource.ProcessID;
            await ScalarAsync(lease.Resource, Dirty);
            await ScalarAsync(lease.Resource, "BEGIN; CREATE TABLE IF NOT EXISTS public.reset_probe (id int); INSERT INTO public.reset_probe VALUES (1)");
            Assert.True(NpgsqlTransactionState.TryGetInTransaction(lease.Resource));
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            NpgsqlConnection c = lease.Resource;
            Assert.Equal(pid, c.ProcessID);
            Assert.False(NpgsqlTransactionState.TryGetInTransaction(c));
            Assert.Equal("4MB", await ScalarAsync(c, "SHOW work_mem"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_class WHERE relname = 'leaked' AND relpersistence = 't'"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'leaked_stmt'"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_class WHERE relname = 'reset_probe'"));
            Assert.Equal(app, await ScalarAsync(c, "SHOW application_name"));
        }
    }

    [Fact]
    public async Task ResetAsync_Discard_WithAutoPrepare_KeepsNpgsqlPreparedStatementsWorking()
    {
        string app = AppName();
        var builder = new NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(app)) { MaxAutoPrepare = 10, AutoPrepareMinUsages = 1 };
        await using var pool = NpgsqlConnectionPool.Create(builder.ConnectionString, new ConnectionPoolOptions { Name = app, MaxSize = 1 });
        for (int i = 0; i < 5; i++)
        {
            await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
            Assert.Equal(3, await ScalarAsync(lease.Resource, "SELECT 1 + 2"));
            await ScalarAsync(lease.Resource, "SET work_mem = '9MB'");
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            Assert.Equal("4MB", await ScalarAsync(lease.Resource, "SHOW work_mem"));
        }

        Assert.Equal(1, pool.GetStatistics().TotalCreated);
    }

    [Fact]
    public async Task ResetAsync_RollbackOnly_RollsBackTransactionButKeepsSessionState()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1, NpgsqlResetMode.RollbackOnly);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, "SET work_mem = '7MB'");
            NpgsqlTransaction tx = await lease.Resource.BeginTransactionAsync();
            await ScalarAsync(lease.Resource, "SELECT pg_advisory_xact_lock(77)");
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            Assert.False(NpgsqlTransactionState.TryGetInTransaction(lease.Resource));
            Assert.Equal(0L, await ScalarAsync(lease.Resource, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"));
            Assert.Equal("7MB", await ScalarAsync(lease.Resource, "SHOW work_mem"));
        }
    }

    [Fact]
    public async Task ResetAsync_FailedTransaction_IsRolledBackAndConnectionReused()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, "BEGIN");
            await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(lease.Resource, "SELECT 1/0"));
            Assert.False(lease.MarkBrokenIf(new PostgresException("division by zero", "ERROR", "ERROR", "22012")));
        }

        await UseOnceAsync(pool).WaitAsync(Limit);
        Assert.Equal(1, pool.GetStatistics().TotalCreated);
    }

    [Fact]
    public async Task Return_ReaderLeftOpen_DestroysTheConnection()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            var command = new NpgsqlCommand("SELECT generate_series(1, 10)", lease.Resource);
            NpgsqlDataReader reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.NotEqual(ConnectionState.Open, lease.Resource.FullState);
        }

        await UseOnceAsync(pool).WaitAsync(Limit);
        Assert.Equal(2, pool.GetStatistics().TotalCreated);
    }

    [Fact]
    public async Task Acquire_BackendKilledWhileIdle_IsNeverHandedOutWhenValidated()
    {
        string app = AppName();
        // Bypass window 0: every hand-out validates, so a backend killed a moment ago is caught too. (Within a
        // non-zero window the socket look of IsUsable finds it; see the next test.)
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => { o.MaxSize = 3; o.ValidationBypassWindow = TimeSpan.Zero; });
        await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => pool.AcquireAsync().AsTask())).ContinueWith(async t => { foreach (PoolLease<NpgsqlConnection> l in t.Result) { await l.DisposeAsync(); } }).Unwrap().WaitAsync(Limit);
        int[] before = await BackendPidsAsync(fixture.Server, app);
        Assert.Equal(3, before.Length);

        Assert.Equal(3, await fixture.Server.TerminateBackendsAsync(app));
        for (int i = 0; i < 6; i++)
        {
            await UseOnceAsync(pool).WaitAsync(Limit); // never throws: validation destroys the dead ones
        }

        Assert.DoesNotContain((await BackendPidsAsync(fixture.Server, app)), before.Contains);
        Assert.True(pool.GetStatistics().TotalDestroyed >= 3);
    }

    [Fact]
    public async Task Acquire_BackendKilledWhileIdle_WithinBypassWindow_IsNotHandedOut()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => { o.MaxSize = 1; o.ValidationBypassWindow = TimeSpan.FromMinutes(1); });
        await UseOnceAsync(pool).WaitAsync(Limit);
        int[] before = await BackendPidsAsync(fixture.Server, app);
        Assert.Equal(1, await fixture.Server.TerminateBackendsAsync(app));

        // No validation runs within the window: the socket look of IsUsable alone finds the server's goodbye.
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            Assert.DoesNotContain(lease.Resource.ProcessID, before);
            Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1"));
        }

        Assert.Equal(1, (await QuietStatisticsAsync(pool)).DestroyedBy.Unusable);
    }

    [Fact]
    public async Task Lease_BackendKilledWhileLeased_FailsThatOperationOnlyAndPoolReplacesIt()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 2);
        PoolLease<NpgsqlConnection> victim = await pool.AcquireAsync();
        await using (PoolLease<NpgsqlConnection> other = await pool.AcquireAsync())
        {
            int victimPid = victim.Resource.ProcessID;
            Task<object?> running = ScalarAsync(victim.Resource, "SELECT pg_sleep(30)");
            await using (var admin = await fixture.OpenConnectionAsync())
            {
                await WaitUntilAsync(async () => (bool)(await ScalarAsync(admin, $"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = {victimPid} AND state = 'active')"))!, TimeSpan.FromSeconds(10), "the victim runs its query");
                await ScalarAsync(admin, $"SELECT pg_terminate_backend({victimPid})");
            }

            Exception ex = await Assert.ThrowsAnyAsync<NpgsqlException>(() => running.WaitAsync(Limit));
            Assert.True(victim.MarkBrokenIf(ex));
            await victim.DisposeAsync();

            Assert.Equal(1, await ScalarAsync(other.Resource, "SELECT 1"));
        }

        await UseOnceAsync(pool).WaitAsync(Limit);
        await UseOnceAsync(pool).WaitAsync(Limit);
        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(0, stats.Leased);
        Assert.Equal(1, stats.TotalDestroyed);
    }

    [Fact]
    public async Task AcquireAsync_Canceled_LeavesPoolConsistent()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        PoolLease<NpgsqlConnection> held = await pool.AcquireAsync();
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pool.AcquireAsync(cts.Token).AsTask().WaitAsync(Limit));
        }

        Assert.Equal(0, pool.GetStatistics().Waiting);
        await held.DisposeAsync();
        await UseOnceAsync(pool).WaitAsync(Limit);
        Assert.Equal(1, pool.GetStatistics().TotalCreated);
    }

    [Fact]
    public async Task Query_CanceledWhileRunning_ConnectionIsReusedOrReplacedAndPoolConsistent()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            Exception ex = await Assert.ThrowsAnyAsync<Exception>(() => ScalarAsync(lease.Resource, "SELECT pg_sleep(30)", cts.Token).WaitAsync(Limit));
            Assert.True(ex is OperationCanceledException || ex.InnerException is OperationCanceledException, ex.ToString());
            Assert.Equal(NpgsqlErrorClass.NotTransient, NpgsqlErrorClassifier.Classify(ex, NpgsqlOperationPhase.InTransaction));
            lease.MarkBrokenIf(ex);
        }

        await UseOnceAsync(pool).WaitAsync(Limit);
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 1, TimeSpan.FromSeconds(10), "one backend remains");
        Assert.Equal(0, (await QuietStatisticsAsync(pool)).Leased);
    }
}
