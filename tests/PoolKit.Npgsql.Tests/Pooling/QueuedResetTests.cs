using System.Data;
using Npgsql;
using NpgsqlTypes;
using PoolKit.Npgsql.Internal;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooling;

/// <summary>
/// The default reset (<see cref="NpgsqlResetMode.Discard"/>) queued in front of the next command, as Npgsql's own pool
/// does it: as safe as a reset with its own round trip, one server session for a sequential caller, and a protocol
/// stream that stays intact whatever the previous lease did.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class QueuedResetTests(PostgresServerFixture fixture)
{
    [Fact]
    public async Task Discard_ThisNpgsqlVersion_QueuesTheResetWithTheNextCommand()
    {
        // If this fails after an Npgsql upgrade, Discard falls back to a round trip per return (and logs it once).
        Assert.True(NpgsqlPrependedReset.Probe());
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, AppName());
        Assert.Equal(NpgsqlResetMode.Discard, pool.ResetMode);
        Assert.True(pool.Policy.QueuesResetWithNextCommand);

        await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
        ValueTask<bool> reset = pool.Policy.ResetAsync(lease.Resource, CancellationToken.None);
        Assert.True(reset.IsCompletedSuccessfully, "a return outside a transaction must not wait for I/O");
        Assert.True(await reset);
    }

    [Theory]
    [InlineData(NpgsqlResetMode.Discard)]
    [InlineData(NpgsqlResetMode.DiscardOnReturn)]
    public async Task Reset_EverySessionStateOfThePreviousLease_IsGoneForTheNext(NpgsqlResetMode mode)
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1, mode);
        string role = $"pk_role_{Environment.ProcessId}_{(int)mode}";
        object? user;
        await using (NpgsqlConnection admin = await fixture.OpenConnectionAsync())
        {
            await ScalarAsync(admin, $"DROP ROLE IF EXISTS {role}; CREATE ROLE {role}");
            user = await ScalarAsync(admin, "SELECT session_user::text");
        }

        int pid;
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            NpgsqlConnection c = lease.Resource;
            pid = c.ProcessID;
            await ScalarAsync(c, """
                SET work_mem = '7MB';
                SET search_path = pg_catalog;
                CREATE TEMP TABLE leaked (id int);
                PREPARE leaked_stmt AS SELECT 42;
                SELECT pg_advisory_lock(4242);
                LISTEN leaked_channel;
                """);
            await ScalarAsync(c, $"SET ROLE {role}");
            Assert.Equal(role, await ScalarAsync(c, "SELECT current_user::text"));
            await ScalarAsync(c, $"SET SESSION AUTHORIZATION {role}");
            Assert.Equal(role, await ScalarAsync(c, "SELECT session_user::text"));
            NpgsqlTransaction tx = await c.BeginTransactionAsync();
            await ScalarAsync(c, "SELECT pg_advisory_xact_lock(4343)");
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            NpgsqlConnection c = lease.Resource;
            Assert.Equal(pid, c.ProcessID);
            Assert.False(NpgsqlTransactionState.TryGetInTransaction(c));
            Assert.Equal("4MB", await ScalarAsync(c, "SHOW work_mem"));
            Assert.Equal("\"$user\", public", await ScalarAsync(c, "SHOW search_path"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_class WHERE relname = 'leaked' AND relpersistence = 't'"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'leaked_stmt'"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"));
            Assert.Equal(0L, await ScalarAsync(c, "SELECT count(*) FROM pg_listening_channels()"));
            Assert.Equal(user, await ScalarAsync(c, "SELECT session_user::text"));
            Assert.Equal(user, await ScalarAsync(c, "SELECT current_user::text"));
            Assert.Equal(app, await ScalarAsync(c, "SHOW application_name"));
        }

        await using (NpgsqlConnection admin = await fixture.OpenConnectionAsync())
        {
            await ScalarAsync(admin, $"DROP ROLE IF EXISTS {role}");
        }
    }

    [Fact]
    public async Task Discard_TransactionLeftOpen_IsRolledBackNeverCommitted()
    {
        string app = AppName();
        string table = $"pk_queued_tx_{Environment.ProcessId}";
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, $"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int)");
            NpgsqlTransaction tx = await lease.Resource.BeginTransactionAsync();
            await ScalarAsync(lease.Resource, $"INSERT INTO {table} VALUES (1)");
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            Assert.Equal(0L, await ScalarAsync(lease.Resource, $"SELECT count(*) FROM {table}"));
            await using NpgsqlTransaction tx = await lease.Resource.BeginTransactionAsync();
            await ScalarAsync(lease.Resource, $"INSERT INTO {table} VALUES (2)");
            await tx.CommitAsync();
            Assert.Equal(1L, await ScalarAsync(lease.Resource, $"SELECT count(*) FROM {table}"));
            await ScalarAsync(lease.Resource, $"DROP TABLE {table}");
        }

        Assert.Equal(1, pool.GetStatistics().TotalCreated);
    }

    [Fact]
    public async Task Discard_WhateverTheLastLeaseDid_TheNextCommandsReadTheirOwnResults()
    {
        // Each step leaves the connection in a different protocol situation, then the next lease runs a batch, COPY,
        // a reader and a prepared statement on the connection with the queued reset in front.
        string app = AppName();
        string table = $"pk_queued_copy_{Environment.ProcessId}";
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 1);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await ScalarAsync(lease.Resource, $"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id int, name text)");
        }

        Func<NpgsqlConnection, Task>[] lastLeaseDid =
        [
            static c => ScalarAsync(c, "SET work_mem = '9MB'"),
            static async c =>
            {
                // A command cancelled while it runs.
                using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ScalarAsync(c, "SELECT pg_sleep(5)", cts.Token));
            },
            static async c =>
            {
                // A failed statement inside a transaction left open.
                await ScalarAsync(c, "BEGIN");
                await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(c, "SELECT 1/0"));
            },
            static async c =>
            {
                // A transaction begun and never sent (Npgsql queues BEGIN until the next command).
                _ = await c.BeginTransactionAsync();
            },
            static async c =>
            {
                await using NpgsqlCommand prepared = new("SELECT $1::int + 1", c) { Parameters = { new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = 1 } } };
                await prepared.PrepareAsync();
                Assert.Equal(2, await prepared.ExecuteScalarAsync());
            },
        ];

        int round = 0;
        foreach (Func<NpgsqlConnection, Task> previous in lastLeaseDid)
        {
            await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
            {
                await previous(lease.Resource).WaitAsync(Limit);
            }

            await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
            {
                NpgsqlConnection c = lease.Resource;
                Assert.Equal(ConnectionState.Open, c.FullState);
                round++;

                await using (NpgsqlBatch batch = new(c)
                {
                    BatchCommands = { new("SHOW work_mem"), new("SELECT 40 + 2"), new("SELECT count(*) FROM pg_prepared_statements") },
                })
                {
                    await using NpgsqlDataReader reader = await batch.ExecuteReaderAsync();
                    Assert.True(await reader.ReadAsync());
                    Assert.Equal("4MB", reader.GetString(0));
                    Assert.True(await reader.NextResultAsync());
                    Assert.True(await reader.ReadAsync());
                    Assert.Equal(42, reader.GetInt32(0));
                }

                await using (NpgsqlBinaryImporter copy = await c.BeginBinaryImportAsync($"COPY {table} (id, name) FROM STDIN (FORMAT BINARY)"))
                {
                    for (int i = 0; i < 3; i++)
                    {
                        await copy.StartRowAsync();
                        await copy.WriteAsync(round, NpgsqlDbType.Integer);
                        await copy.WriteAsync($"row {i}", NpgsqlDbType.Text);
                    }

                    Assert.Equal(3UL, await copy.CompleteAsync());
                }

                Assert.Equal(3L, await ScalarAsync(c, $"SELECT count(*) FROM {table} WHERE id = {round}"));
                Assert.False(NpgsqlTransactionState.TryGetInTransaction(c));
            }
        }

        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            Assert.Equal(3L * lastLeaseDid.Length, await ScalarAsync(lease.Resource, $"SELECT count(*) FROM {table}"));
            await ScalarAsync(lease.Resource, $"DROP TABLE {table}");
        }
    }

    [Theory]
    [InlineData("await using")]
    [InlineData("using")]
    [InlineData("ReturnAsync")]
    public async Task Default_SequentialCaller_UsesOneServerSession(string howReturned)
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = NpgsqlConnectionPool.Create(fixture.Server.GetConnectionString(app), new ConnectionPoolOptions { Name = app });
        var pids = new HashSet<int>();
        for (int i = 0; i < 100; i++)
        {
            PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
            pids.Add(lease.Resource.ProcessID);
            if (i % 2 == 0)
            {
                Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1"));
            }

            switch (howReturned)
            {
                case "await using":
                    await lease.DisposeAsync();
                    break;
                case "using":
                    lease.Dispose();
                    break;
                default:
                    await pool.ReturnAsync(lease);
                    break;
            }
        }

        Assert.Single(pids);
        Assert.Single(await BackendPidsAsync(fixture.Server, app));
        Assert.Equal(1, pool.GetStatistics().TotalCreated);
    }

    [Fact]
    public async Task Default_ConcurrentCallers_NeverOpenMoreSessionsThanCallers()
    {
        const int Callers = 4;
        string app = AppName();
        await using NpgsqlConnectionPool pool = NpgsqlConnectionPool.Create(fixture.Server.GetConnectionString(app), new ConnectionPoolOptions { Name = app });
        int maxSeen = 0;
        Task[] callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
                Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1"));
            }
        })).ToArray();

        Task all = Task.WhenAll(callers);
        while (!all.IsCompleted)
        {
            maxSeen = Math.Max(maxSeen, (await BackendPidsAsync(fixture.Server, app)).Length);
            await Task.WhenAny(all, Task.Delay(20));
        }

        await all.WaitAsync(Limit);
        maxSeen = Math.Max(maxSeen, (await BackendPidsAsync(fixture.Server, app)).Length);
        Assert.InRange(maxSeen, 1, Callers);
        Assert.InRange(pool.GetStatistics().TotalCreated, 1, Callers);
    }
}
