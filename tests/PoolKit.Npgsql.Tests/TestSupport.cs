using System.Runtime.CompilerServices;
using Npgsql;
using PoolKit.Testing;

namespace PoolKit.Npgsql.Tests;

/// <summary>Helpers shared by the database tests: unique names, polling with a deadline, and pool construction.</summary>
internal static class TestSupport
{
    /// <summary>The upper bound of any await that could hang.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private static int s_counter;

    /// <summary>A unique application name per test, so the server's view can be counted per pool.</summary>
    public static string AppName([CallerMemberName] string test = "") =>
        $"pk{Interlocked.Increment(ref s_counter)}_{Environment.ProcessId}_{(test.Length > 40 ? test[..40] : test)}";

    /// <summary>Options that ignore the environment and Docker: fault controls need a local cluster of our own.</summary>
    public static PostgresTestServerOptions LocalOnly(int maxConnections = 30) => new()
    {
        EnvironmentVariable = null,
        UseDocker = false,
        MaxConnections = maxConnections,
    };

    public static NpgsqlConnectionPool CreatePool(PostgresTestServer server, string appName, Action<ConnectionPoolOptions>? configure = null, NpgsqlResetMode resetMode = NpgsqlResetMode.Discard)
    {
        var options = new ConnectionPoolOptions { Name = appName, AcquireTimeout = TimeSpan.FromSeconds(10) };
        configure?.Invoke(options);
        return NpgsqlConnectionPool.Create(server.GetConnectionString(appName), options, resetMode);
    }

    /// <summary>The server's or the network's error behind an acquire failure (unwrapping PoolKit's wrappers).</summary>
    public static Exception RealError(Exception ex)
    {
        while (ex is PoolKitNpgsqlException or ResourceCreationException && ex.InnerException is { } inner)
        {
            ex = inner;
        }

        return ex;
    }

    /// <summary>Polls until the condition holds, failing after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (!await condition().WaitAsync(Limit))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {timeout} waiting until {what}.");
            }

            await Task.Delay(50);
        }
    }

    public static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken = default)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    /// <summary>Runs SELECT 1 on a leased connection, marking the lease broken on error.</summary>
    /// <summary>
    /// Waits (bounded) until nothing is leased, created or destroyed, and returns the statistics then. A returned
    /// connection counts as leased until its reset (a round trip) has finished in the background.
    /// </summary>
    public static async Task<PoolStatistics> QuietStatisticsAsync(IConnectionPool<NpgsqlConnection> pool)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            PoolStatistics stats = pool.GetStatistics();
            if (stats is { Leased: 0, Creating: 0, Destroying: 0 } || clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                return stats;
            }

            await Task.Delay(5);
        }
    }

    public static async Task UseOnceAsync(IConnectionPool<NpgsqlConnection> pool, CancellationToken cancellationToken = default)
    {
        await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync(cancellationToken);
        try
        {
            Assert.Equal(1, await ScalarAsync(lease.Resource, "SELECT 1", cancellationToken));
        }
        catch (Exception ex)
        {
            lease.MarkBrokenIf(ex);
            throw;
        }
    }

    public static async Task<int[]> BackendPidsAsync(PostgresTestServer server, string appName)
    {
        await using var admin = new NpgsqlConnection(server.GetConnectionString("poolkit-admin"));
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", admin) { Parameters = { new() { Value = appName } } };
        var pids = new List<int>();
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            pids.Add(reader.GetInt32(0));
        }

        return [.. pids];
    }
}
