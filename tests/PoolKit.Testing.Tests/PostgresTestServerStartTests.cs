using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Testing.Tests;

/// <summary>Where the server comes from, and the lifecycle of the local clusters this test starts itself.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PostgresTestServerStartTests(PostgresServerFixture fixture)
{
    [Fact]
    public async Task StartAsync_LocalBinaries_StartsPasswordProtectedClusterWithRequestedSettings()
    {
        await using PostgresTestServer server = await TestServers.StartLocalAsync(maxConnections: 37);

        Assert.Equal(PostgresServerSource.LocalCluster, server.Source);
        Assert.Equal("127.0.0.1", server.Host);
        Assert.Equal("postgres", server.Username);
        Assert.Equal("postgres", server.Database);
        await using NpgsqlConnection connection = new(server.GetConnectionString("start-test"));
        await connection.OpenAsync();
        await using NpgsqlCommand select = new("SELECT 1", connection);
        Assert.Equal(1, await select.ExecuteScalarAsync());
        Assert.True(connection.PostgreSqlVersion.Major >= 10, $"server version {connection.ServerVersion}");
        await using NpgsqlCommand settings = new(
            "SELECT current_setting('max_connections') || ',' || current_setting('fsync') || ',' || current_setting('listen_addresses')",
            connection);
        Assert.Equal("37,off,127.0.0.1", await settings.ExecuteScalarAsync());

        // The password path is real: a wrong password is refused by SCRAM authentication.
        NpgsqlConnectionStringBuilder wrong = server.CreateConnectionStringBuilder();
        wrong.Password = "not-the-password";
        wrong.Pooling = false;
        await using NpgsqlConnection refused = new(wrong.ConnectionString);
        PostgresException error = await Assert.ThrowsAsync<PostgresException>(() => refused.OpenAsync());
        Assert.Equal(PostgresErrorCodes.InvalidPassword, error.SqlState);
    }

    [Fact]
    public async Task StartAsync_TwoInParallel_GetTheirOwnPortAndDirectoryAndBothWork()
    {
        PostgresTestServer[] servers = await Task.WhenAll(TestServers.StartLocalAsync(), TestServers.StartLocalAsync());
        try
        {
            Assert.NotEqual(servers[0].Port, servers[1].Port);
            Assert.NotEqual(servers[0].DataDirectory, servers[1].DataDirectory);
            Assert.NotEqual(servers[0].PostmasterProcessId, servers[1].PostmasterProcessId);
            foreach (PostgresTestServer server in servers)
            {
                await using NpgsqlConnection connection = new(server.GetConnectionString("parallel-test"));
                await connection.OpenAsync();
                await using NpgsqlCommand command = new("SELECT current_setting('port')::int", connection);
                Assert.Equal(server.Port, await command.ExecuteScalarAsync());
            }
        }
        finally
        {
            await Task.WhenAll(servers.Select(s => s.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task StartAsync_EnvironmentVariableSet_WinsAndLeavesTheServerAlone()
    {
        string external = fixture.ConnectionString;
        List<string> asked = [];
        PostgresTestServerOptions options = new()
        {
            GetEnvironmentVariable = name =>
            {
                asked.Add(name);
                return name == "MY_TEST_DB" ? external : null;
            },
            EnvironmentVariable = "MY_TEST_DB",
        };

        PostgresTestServer server = await PostgresTestServer.StartAsync(options);
        await using (server)
        {
            Assert.Equal(PostgresServerSource.Environment, server.Source);
            Assert.Equal(external, server.ConnectionString);
            Assert.Equal(["MY_TEST_DB"], asked);
            Assert.Null(server.DataDirectory);
            Assert.Null(server.PostmasterProcessId);
            NotSupportedException error = await Assert.ThrowsAsync<NotSupportedException>(() => server.FreezeAsync());
            Assert.Contains("Environment", error.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<NotSupportedException>(() => server.StopAsync(immediate: true));
            await Assert.ThrowsAsync<NotSupportedException>(() => server.StartAgainAsync());
            await Assert.ThrowsAsync<NotSupportedException>(() => server.RestartAsync());
            await Assert.ThrowsAsync<NotSupportedException>(() => server.ThawAsync());
            Assert.False(server.IsFrozen);
        }

        // Disposing the environment server must not have stopped the server it points at.
        await using NpgsqlConnection connection = new(fixture.GetConnectionString("env-test"));
        await connection.OpenAsync();
    }

    [Fact]
    public async Task StartAsync_EnvironmentVariableBlank_FallsThroughToLocalCluster()
    {
        PostgresTestServerOptions options = TestServers.LocalOnly();
        options.EnvironmentVariable = PostgresTestServerOptions.DefaultEnvironmentVariable;
        options.GetEnvironmentVariable = name => name == "PATH" ? Environment.GetEnvironmentVariable(name) : "   ";

        await using PostgresTestServer server = await PostgresTestServer.StartAsync(options).WaitAsync(TestServers.ScenarioLimit);

        Assert.Equal(PostgresServerSource.LocalCluster, server.Source);
    }

    [Fact]
    public async Task StartAsync_NoSourceAvailable_ThrowsUnavailableSayingWhatToDo()
    {
        PostgresTestServerOptions options = new()
        {
            GetEnvironmentVariable = _ => null,
            UseDocker = false, // hermetic: a machine with Docker would otherwise start a container here
            BinarySearchPaths = [],
        };

        PostgresUnavailableException error = await Assert.ThrowsAsync<PostgresUnavailableException>(
            () => PostgresTestServer.StartAsync(options));

        Assert.Contains("set POOLKIT_TEST_CONNECTION_STRING", error.Message, StringComparison.Ordinal);
        Assert.Contains("start a Docker engine", error.Message, StringComparison.Ordinal);
        Assert.Contains("reference PoolKit.Testing.Containers", error.Message, StringComparison.Ordinal);
        Assert.Contains("apt-get install postgresql", error.Message, StringComparison.Ordinal);
        Assert.Contains("no directories to search", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_ThrowsNamingEveryInvalidOption()
    {
        PostgresTestServerOptions options = new()
        {
            MaxConnections = 0,
            StartTimeout = TimeSpan.Zero,
            ImageName = " ",
        };

        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(() => PostgresTestServer.StartAsync(options));

        Assert.Contains("MaxConnections is 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("StartTimeout", error.Message, StringComparison.Ordinal);
        Assert.Contains("ImageName", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposeAsync_LocalCluster_StopsPostmasterAndDeletesDirectory()
    {
        PostgresTestServer server = await TestServers.StartLocalAsync();
        string root = Path.GetDirectoryName(server.DataDirectory!)!;
        int pid = server.PostmasterProcessId ?? throw new InvalidOperationException("The new server reports no postmaster.");
        Assert.True(Directory.Exists(root));
        Assert.True(File.Exists(server.LogFilePath));

        await server.DisposeAsync().AsTask().WaitAsync(TestServers.ScenarioLimit);

        Assert.False(Directory.Exists(root), $"{root} still exists");
        Assert.False(IsRunning(pid), $"postmaster {pid} still runs");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => server.CountBackendsAsync("x"));
        await server.DisposeAsync(); // a second disposal does nothing
    }

    private static bool IsRunning(int pid)
    {
        // A zombie is not running; /proc/<pid>/stat says 'Z' for it.
        string stat = $"/proc/{pid}/stat";
        return File.Exists(stat) && !File.ReadAllText(stat).Split(')')[^1].TrimStart().StartsWith('Z');
    }
}
