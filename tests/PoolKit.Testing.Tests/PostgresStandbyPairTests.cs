using Npgsql;

namespace PoolKit.Testing.Tests;

/// <summary>A real primary and streaming standby from the local binaries; bounded by <see cref="TestServers.ScenarioLimit"/>.</summary>
public sealed class PostgresStandbyPairTests
{
    [Fact]
    public async Task StartAsync_StandbyStreamsAndRefusesWrites_PromoteAfterStopPrimaryMakesItWritable()
    {
        await using PostgresStandbyPair pair = await PostgresStandbyPair.StartAsync(TestServers.LocalOnly()).WaitAsync(TestServers.ScenarioLimit);
        Assert.NotEqual(pair.Primary.Port, pair.Standby.Port);
        Assert.NotEqual(pair.Primary.DataDirectory, pair.Standby.DataDirectory);

        await ExecuteAsync(pair.Primary.ConnectionString, "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)");
        await pair.WaitForStandbyToCatchUpAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(2L, await ScalarAsync(pair.Standby.ConnectionString, "SELECT count(*) FROM t"));
        Assert.Equal(true, await ScalarAsync(pair.Standby.ConnectionString, "SELECT pg_is_in_recovery()"));
        PostgresException readOnly = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(pair.Standby.ConnectionString, "INSERT INTO t VALUES (3)"));
        Assert.Equal(PostgresErrorCodes.ReadOnlySqlTransaction, readOnly.SqlState);

        // Multi-host: read-write lands on the primary, prefer-standby on the standby.
        Assert.Equal(pair.Primary.Port, await ScalarAsync(pair.GetConnectionString("pair-rw", TargetSessionAttributes.ReadWrite), "SELECT inet_server_port()"));
        Assert.Equal(pair.Standby.Port, await ScalarAsync(pair.GetConnectionString("pair-ro", TargetSessionAttributes.PreferStandby), "SELECT inet_server_port()"));

        await pair.StopPrimaryAsync().WaitAsync(TestServers.ScenarioLimit);
        await pair.PromoteStandbyAsync().WaitAsync(TestServers.ScenarioLimit);

        Assert.Equal(false, await ScalarAsync(pair.Standby.ConnectionString, "SELECT pg_is_in_recovery()"));
        await ExecuteAsync(pair.Standby.ConnectionString, "INSERT INTO t VALUES (3)");
        // Npgsql caches each host's role for Host Recheck Seconds (the standby was seen as a standby above), so a
        // read-write connection may find no suitable host until the cache expires: retry, bounded.
        string readWrite = pair.GetConnectionString("pair-rw2", TargetSessionAttributes.ReadWrite) + ";Host Recheck Seconds=1";
        Assert.Equal(pair.Standby.Port, await ScalarWithinAsync(readWrite, "SELECT inet_server_port()", TimeSpan.FromSeconds(15)));
        Assert.Equal(3L, await ScalarAsync(pair.Standby.ConnectionString, "SELECT count(*) FROM t"));
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using NpgsqlConnection connection = new(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using NpgsqlCommand command = new(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<object?> ScalarWithinAsync(string connectionString, string sql, TimeSpan limit)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await ScalarAsync(connectionString, sql);
            }
            catch (NpgsqlException) when (clock.Elapsed < limit)
            {
                await Task.Delay(250);
            }
        }
    }

    private static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using NpgsqlConnection connection = new(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using NpgsqlCommand command = new(sql, connection);
        return await command.ExecuteScalarAsync();
    }
}
