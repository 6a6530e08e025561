using System.Data;
using System.Data.Common;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.DataSource;

[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PoolKitDataSourceTests(PostgresServerFixture fixture)
{
    private NpgsqlConnectionPool Pool(string app, Action<ConnectionPoolOptions>? configure = null, NpgsqlResetMode resetMode = NpgsqlResetMode.Discard, ILoggerFactory? loggerFactory = null)
    {
        var options = new ConnectionPoolOptions { Name = app, AcquireTimeout = TimeSpan.FromSeconds(10) };
        configure?.Invoke(options);
        return new NpgsqlConnectionPool(
            new NpgsqlConnectionPoolOptions { ConnectionString = fixture.Server.GetConnectionString(app), Pool = options, ResetMode = resetMode },
            loggerFactory);
    }

    [Fact]
    public async Task OpenConnectionAsync_AwaitUsingHabit_ReusesServerSessionsAndDestroysNothing()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app, o => o.MaxSize = 3);
        var ds = new PoolKitDataSource(pool);
        var pids = new HashSet<int>();
        for (int i = 0; i < 40; i++)
        {
            await using DbConnection conn = await ds.OpenConnectionAsync();
            await using DbCommand command = conn.CreateCommand();
            command.CommandText = "SELECT pg_backend_pid()";
            pids.Add((int)(await command.ExecuteScalarAsync())!);
        }

        // A returned connection is reset in the background, so a caller right behind may get a second one: never
        // more than MaxSize, and none destroyed (the lease habit would have created and destroyed 40).
        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.InRange(pids.Count, 1, 3);
        Assert.Equal(pids.Count, stats.TotalCreated);
        Assert.Equal(0, stats.TotalDestroyed);
        Assert.Equal(0, pool.ClosedByCaller);
        Assert.Equal(pids.Count, await fixture.Server.CountBackendsAsync(app));
    }

    [Fact]
    public async Task OpenConnectionAsync_64ConcurrentCallers_ServerNeverSeesMoreSessionsThanMaxSize()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app, o => o.MaxSize = 4);
        DbDataSource ds = new PoolKitDataSource(pool);
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
            for (int i = 0; i < 5; i++)
            {
                await using DbConnection conn = await ds.OpenConnectionAsync();
                await using DbCommand command = conn.CreateCommand();
                command.CommandText = "SELECT 1 FROM pg_sleep(0.002)";
                Assert.Equal(1, await command.ExecuteScalarAsync());
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(Limit);
        done.Cancel();
        await sampler.WaitAsync(Limit);

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.InRange(maxSeen, 1, 4);
        Assert.True(stats.TotalCreated <= 4, $"created {stats.TotalCreated}");
        Assert.Equal(0, stats.TotalDestroyed);
    }

    [Fact]
    public async Task LeaseResourceDisposedByCaller_IsCountedLoggedOnceAtWarningAndMetered()
    {
        string app = AppName();
        var logs = new FakeLogCollector();
        using var factory = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(logs)));
        await using NpgsqlConnectionPool pool = Pool(app, o => o.MaxSize = 2, loggerFactory: factory);
        long metered = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "poolkit.npgsql.connection.closed_by_caller")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == PoolKitTelemetry.PoolNameTag && (string?)tag.Value == app)
                {
                    Interlocked.Add(ref metered, value);
                }
            }
        });
        listener.Start();

        for (int i = 0; i < 5; i++)
        {
            await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
            await using NpgsqlConnection conn = lease.Resource; // the habit the detector exists for
            Assert.Equal(1, await ScalarAsync(conn, "SELECT 1"));
        }

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(5, pool.ClosedByCaller);
        Assert.Equal(5, Interlocked.Read(ref metered));
        Assert.Equal(5, stats.TotalDestroyed);
        FakeLogRecord warning = Assert.Single(logs.GetSnapshot(), r => r.Id.Id == NpgsqlPoolEventIds.ConnectionClosedByCaller);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains(app, warning.Message);
        Assert.Contains("PoolKitDataSource", warning.Message);
    }

    [Fact]
    public async Task LeaseReturnedNormally_IsNotCountedAsClosedByCaller()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app);
        for (int i = 0; i < 3; i++)
        {
            await UseOnceAsync(pool);
        }

        Assert.Equal(0, (await QuietStatisticsAsync(pool)).TotalDestroyed);
        Assert.Equal(0, pool.ClosedByCaller);
    }

    [Fact]
    public async Task CommandCreatedBeforeOpen_CloseConnectionBehavior_ReturnsTheLeaseAndKeepsTheSession()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app, o => o.MaxSize = 1);
        var ds = new PoolKitDataSource(pool);
        int? firstPid = null;
        for (int i = 0; i < 3; i++)
        {
            // What Dapper does with a closed connection: create the command, open, read with CloseConnection.
            await using DbConnection conn = ds.CreateConnection();
            await using DbCommand command = conn.CreateCommand();
            command.CommandText = "SELECT pg_backend_pid()";
            Assert.Equal(ConnectionState.Closed, conn.State);
            await conn.OpenAsync();
            await using (DbDataReader reader = await command.ExecuteReaderAsync(CommandBehavior.CloseConnection))
            {
                Assert.True(await reader.ReadAsync());
                int pid = reader.GetInt32(0);
                firstPid ??= pid;
                Assert.Equal(firstPid, pid);
            }

            Assert.Equal(ConnectionState.Closed, conn.State);
        }

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(1, stats.TotalCreated);
        Assert.Equal(0, stats.TotalDestroyed);
        Assert.Equal(0, pool.ClosedByCaller);
    }

    [Fact]
    public async Task DataSourceCommand_RunsOnAPooledConnectionAndReturnsIt()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app, o => o.MaxSize = 1);
        DbDataSource ds = new PoolKitDataSource(pool);
        for (int i = 0; i < 3; i++)
        {
            await using DbCommand command = ds.CreateCommand("SELECT 41 + 1");
            Assert.Equal(42, await command.ExecuteScalarAsync());
        }

        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(1, stats.TotalCreated);
        Assert.Equal(0, stats.TotalDestroyed);
    }

    [Fact]
    public async Task Close_WithUncommittedTransaction_RollsBackEvenWithResetModeNone()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app, o => o.MaxSize = 1, NpgsqlResetMode.None);
        var ds = new PoolKitDataSource(pool);
        const string table = "ds_tx";
        await using (PoolKitDbConnection conn = await ds.OpenConnectionAsync())
        {
            await ScalarAsync(conn.NpgsqlConnection, $"CREATE TEMP TABLE IF NOT EXISTS {table} (id int)");
            PoolKitDbTransaction tx = await conn.BeginTransactionAsync();
            await using PoolKitDbCommand insert = conn.CreateCommand();
            insert.CommandText = $"INSERT INTO {table} VALUES (1)";
            insert.Transaction = tx;
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }

        await using (PoolKitDbConnection conn = await ds.OpenConnectionAsync())
        {
            // Same session (MaxSize 1, reset None keeps the temp table): the insert was rolled back.
            Assert.Equal(0L, await ScalarAsync(conn.NpgsqlConnection, $"SELECT count(*) FROM {table}"));
        }
    }

    [Fact]
    public async Task NpgsqlConnection_ServesNpgsqlOnlyApis_NewNpgsqlCommandAndBinaryCopy()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app, o => o.MaxSize = 1);
        var ds = new PoolKitDataSource(pool);
        await using PoolKitDbConnection conn = await ds.OpenConnectionAsync();
        NpgsqlConnection npgsql = conn.NpgsqlConnection;
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE copy_target (id int)", npgsql))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using (NpgsqlBinaryImporter importer = await npgsql.BeginBinaryImportAsync("COPY copy_target (id) FROM STDIN (FORMAT BINARY)"))
        {
            for (int i = 0; i < 100; i++)
            {
                await importer.StartRowAsync();
                await importer.WriteAsync(i);
            }

            Assert.Equal(100UL, await importer.CompleteAsync());
        }

        Assert.Equal(100L, await ScalarAsync(npgsql, "SELECT count(*) FROM copy_target"));
        await conn.CloseAsync();
        Assert.Throws<InvalidOperationException>(() => conn.NpgsqlConnection);
    }

    [Fact]
    public async Task OpenConnectionAsync_PoolExhausted_ThrowsNonTransientNpgsqlException()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = Pool(app, o => { o.MaxSize = 1; o.AcquireTimeout = TimeSpan.FromMilliseconds(200); });
        DbDataSource ds = new PoolKitDataSource(pool);
        await using DbConnection held = await ds.OpenConnectionAsync();

        DbException ex = await Assert.ThrowsAsync<PoolKitNpgsqlException>(async () => await ds.OpenConnectionAsync());
        var pooled = Assert.IsType<PoolKitNpgsqlException>(ex);
        Assert.IsAssignableFrom<NpgsqlException>(ex);
        Assert.False(ex.IsTransient);
        Assert.True(pooled.IsPoolExhausted);
        Assert.IsType<PoolExhaustedException>(ex.InnerException);
        Assert.Contains("MaxSize", ex.Message);
    }

    [Fact]
    public async Task Dispose_OwningDataSource_DisposesThePool()
    {
        string app = AppName();
        var ds = PoolKitDataSource.Create(fixture.Server.GetConnectionString(app), new ConnectionPoolOptions { Name = app, MinSize = 1 });
        await using (DbConnection conn = await ds.OpenConnectionAsync())
        {
            Assert.DoesNotContain("Password", ds.ConnectionString, StringComparison.OrdinalIgnoreCase);
        }

        await ds.DisposeAsync();
        await WaitUntilAsync(async () => await fixture.Server.CountBackendsAsync(app) == 0, TimeSpan.FromSeconds(10), "the owned pool closed its sessions");
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await ds.Pool.AcquireAsync());
    }
}
