using System.Text;
using Npgsql;
using PoolKit.Npgsql.Internal;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Pooling;

/// <summary>
/// A connection whose server ended the session while it sat idle is not handed out (issue 18, item 6), measured next to
/// Npgsql's own pool on the same server.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class ServerHangupTests(PostgresServerFixture fixture)
{
    private const int PoolSize = 10;

    [Fact]
    public void Probe_ThisNpgsqlVersion_InternalsBind()
    {
        // If this fails after an Npgsql upgrade, dead idle connections are found by validation only (logged).
        Assert.True(NpgsqlServerHangup.Probe());
    }

    [Fact]
    public async Task AllIdleBackendsTerminated_NextAcquiresFirstCommands_ZeroFailuresVersusNpgsqlPoolAllFailures()
    {
        string poolKitApp = AppName();
        string npgsqlApp = AppName();

        // The bypass window is long so no validation round trip runs: only the socket look can find the dead ones.
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, poolKitApp, o => { o.MaxSize = PoolSize; o.ValidationBypassWindow = TimeSpan.FromMinutes(5); });
        var npgsqlBuilder = new NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(npgsqlApp, pooling: true)) { MaxPoolSize = PoolSize, MinPoolSize = 0 };
        await using NpgsqlDataSource npgsql = NpgsqlDataSource.Create(npgsqlBuilder.ConnectionString);

        // Warm both to PoolSize idle connections.
        await HoldAllAsync(pool, npgsql, static (_, _) => Task.CompletedTask);
        Assert.Equal(PoolSize, await fixture.Server.CountBackendsAsync(poolKitApp));
        Assert.Equal(PoolSize, await fixture.Server.CountBackendsAsync(npgsqlApp));
        int[] before = await BackendPidsAsync(fixture.Server, poolKitApp);

        Assert.Equal(PoolSize, await fixture.Server.TerminateBackendsAsync(poolKitApp));
        Assert.Equal(PoolSize, await fixture.Server.TerminateBackendsAsync(npgsqlApp));
        Assert.Equal(0, await fixture.Server.CountBackendsAsync(poolKitApp));
        Assert.Equal(0, await fixture.Server.CountBackendsAsync(npgsqlApp));

        int poolKitFailures = 0;
        int npgsqlFailures = 0;
        await HoldAllAsync(pool, npgsql, async (connection, isPoolKit) =>
        {
            try
            {
                Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
            }
            catch (NpgsqlException)
            {
                Interlocked.Increment(ref isPoolKit ? ref poolKitFailures : ref npgsqlFailures);
            }
        });

        Assert.Equal(0, poolKitFailures);
        Assert.Equal(PoolSize, npgsqlFailures); // Npgsql's pool hands every dead connection out: the comparison is real.

        // What the server sees: PoolSize fresh sessions for PoolKit, none of the terminated ones.
        int[] after = await BackendPidsAsync(fixture.Server, poolKitApp);
        Assert.Equal(PoolSize, after.Length);
        Assert.DoesNotContain(after, before.Contains);
        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(PoolSize, stats.DestroyedBy.Unusable);
        Assert.Equal(PoolSize, stats.Live);
    }

    [Fact]
    public async Task IdleConnectionWithPendingNotification_IsHandedOutNotDestroyed()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => { o.MaxSize = 1; o.ValidationBypassWindow = TimeSpan.FromMinutes(5); });
        int pid;
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            pid = lease.Resource.ProcessID;
            await ScalarAsync(lease.Resource, "LISTEN poolkit_hangup_probe");
        }

        // The queued reset (UNLISTEN among it) is not sent until the next command, so the idle session still listens:
        // the notification waits unread on its socket.
        Assert.True(pool.Policy.QueuesResetWithNextCommand);
        await using (NpgsqlConnection admin = await fixture.OpenConnectionAsync())
        {
            await ScalarAsync(admin, "NOTIFY poolkit_hangup_probe, 'payload'");
        }

        await WaitUntilAsync(() => Task.FromResult(SocketHasData(pool)), TimeSpan.FromSeconds(10), "the notification reaches the idle socket");

        // Past the bypass after the last return, so the hand-out really looks at the socket.
        await Task.Delay(NpgsqlConnectionPolicy.HangupCheckBypass * 20);
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            Assert.Equal(pid, lease.Resource.ProcessID);
            Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1"));
        }

        Assert.Equal(0, (await QuietStatisticsAsync(pool)).DestroyedBy.Unusable);
    }

    [Fact]
    public void ContainsErrorResponse_ReadsTheServersMessages()
    {
        byte[] notification = Message('A', [0, 0, 0, 7, .. Encoding.ASCII.GetBytes("ch\0p\0")]);
        byte[] parameter = Message('S', [.. Encoding.ASCII.GetBytes("in_hot_standby\0on\0")]);
        byte[] fatal = Message('E', [.. Encoding.ASCII.GetBytes("SFATAL\0C57P01\0\0")]);

        Assert.False(NpgsqlServerHangup.ContainsErrorResponse(notification, complete: true));
        Assert.False(NpgsqlServerHangup.ContainsErrorResponse([.. notification, .. parameter], complete: true));
        Assert.True(NpgsqlServerHangup.ContainsErrorResponse(fatal, complete: true));
        Assert.True(NpgsqlServerHangup.ContainsErrorResponse([.. notification, .. fatal], complete: true));
        Assert.True(NpgsqlServerHangup.ContainsErrorResponse([.. notification, .. fatal[..3]], complete: true));

        // A look that ends inside a longer message: unknown unless everything queued was seen.
        Assert.Null(NpgsqlServerHangup.ContainsErrorResponse(notification.AsSpan(0, 6), complete: false));
        Assert.False(NpgsqlServerHangup.ContainsErrorResponse(notification.AsSpan(0, 6), complete: true));

        // Not the protocol (a length below 4): unusable.
        Assert.True(NpgsqlServerHangup.ContainsErrorResponse([(byte)'A', 0, 0, 0, 1], complete: true));
    }

    private static byte[] Message(char type, byte[] body)
    {
        int length = body.Length + 4;
        return [(byte)type, (byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length, .. body];
    }

    /// <summary>Whether the idle connection's socket has bytes waiting (borrowing it without a command, then returning it).</summary>
    private static bool SocketHasData(NpgsqlConnectionPool pool)
    {
        if (!pool.TryAcquire(out PoolLease<NpgsqlConnection> lease))
        {
            return false;
        }

        bool waiting = NpgsqlServerHangup.HasWaitingBytes(lease.Resource);
        lease.DisposeAsync().AsTask().GetAwaiter().GetResult();
        return waiting;
    }

    /// <summary>Acquires PoolSize connections from each pool at once, runs <paramref name="use"/> on each, returns them.</summary>
    private static async Task HoldAllAsync(NpgsqlConnectionPool pool, NpgsqlDataSource npgsql, Func<NpgsqlConnection, bool, Task> use)
    {
        var leases = new List<PoolLease<NpgsqlConnection>>();
        var connections = new List<NpgsqlConnection>();
        try
        {
            for (int i = 0; i < PoolSize; i++)
            {
                leases.Add(await pool.AcquireAsync().AsTask().WaitAsync(Limit));
                connections.Add(await npgsql.OpenConnectionAsync().AsTask().WaitAsync(Limit));
            }

            foreach (PoolLease<NpgsqlConnection> lease in leases)
            {
                await use(lease.Resource, true).WaitAsync(Limit);
            }

            foreach (NpgsqlConnection connection in connections)
            {
                await use(connection, false).WaitAsync(Limit);
            }
        }
        finally
        {
            foreach (PoolLease<NpgsqlConnection> lease in leases)
            {
                if (lease.Resource.FullState != System.Data.ConnectionState.Open)
                {
                    lease.MarkBroken();
                }

                await lease.DisposeAsync();
            }

            foreach (NpgsqlConnection connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
