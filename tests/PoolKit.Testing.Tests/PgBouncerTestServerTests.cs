using Npgsql;

namespace PoolKit.Testing.Tests;

/// <summary>A real PgBouncer in front of a local cluster; every test bounded by <see cref="TestServers.ScenarioLimit"/>.</summary>
public sealed class PgBouncerTestServerTests
{
    [Fact]
    public async Task StartAsync_InFrontOfLocalCluster_ServesQueriesAndShowsPoolsAndDisposalKillsItsProcess()
    {
        await using PostgresTestServer server = await TestServers.StartLocalAsync();
        PgBouncerTestServer bouncer = await PgBouncerTestServer.StartAsync(server, new PgBouncerTestServerOptions { DefaultPoolSize = 2 })
            .WaitAsync(TestServers.ScenarioLimit);
        int pid;
        string directory = bouncer.DirectoryPath;
        try
        {
            pid = Assert.IsType<int>(bouncer.ProcessId);
            Assert.NotEqual(server.Port, bouncer.Port);

            await using (NpgsqlConnection connection = new(bouncer.GetConnectionString("pgb-start")))
            {
                await connection.OpenAsync();
                await using NpgsqlCommand command = new("SELECT inet_server_port()", connection);
                Assert.Equal(server.Port, (int)(await command.ExecuteScalarAsync())!);

                IReadOnlyList<PgBouncerPoolStatus> pools = await bouncer.ShowPoolsAsync().WaitAsync(TestServers.ScenarioLimit);
                PgBouncerPoolStatus pool = Assert.Single(pools, p => p.Database == server.Database);
                Assert.Equal("transaction", pool.PoolMode);
                Assert.Equal(1, pool.ClientActive);
                Assert.InRange(pool.ServerTotal, 1, 2);
            }
        }
        finally
        {
            await bouncer.DisposeAsync();
        }

        Assert.False(File.Exists($"/proc/{pid}/stat") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal));
        Assert.False(Directory.Exists(directory));
    }

    [Fact]
    public async Task RestartAsync_CutsClientsThenServesAgainOnTheSamePort()
    {
        await using PostgresTestServer server = await TestServers.StartLocalAsync();
        await using PgBouncerTestServer bouncer = await PgBouncerTestServer.StartAsync(server).WaitAsync(TestServers.ScenarioLimit);
        int port = bouncer.Port;
        int before = Assert.IsType<int>(bouncer.ProcessId);
        await using NpgsqlConnection connection = new(bouncer.GetConnectionString("pgb-restart"));
        await connection.OpenAsync();

        await bouncer.RestartAsync().WaitAsync(TestServers.ScenarioLimit);

        Assert.NotEqual(before, bouncer.ProcessId);
        Assert.Equal(port, bouncer.Port);
        await using (NpgsqlCommand stale = new("SELECT 1", connection))
        {
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => stale.ExecuteScalarAsync());
        }

        await using NpgsqlConnection fresh = new(bouncer.GetConnectionString("pgb-restart"));
        await fresh.OpenAsync();
        await using NpgsqlCommand command = new("SELECT 1", fresh);
        Assert.Equal(1, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task PauseResumeReconnect_AdminConsoleAcceptsThem()
    {
        await using PostgresTestServer server = await TestServers.StartLocalAsync();
        await using PgBouncerTestServer bouncer = await PgBouncerTestServer.StartAsync(server).WaitAsync(TestServers.ScenarioLimit);
        await using NpgsqlConnection connection = new(bouncer.GetConnectionString("pgb-admin"));
        await connection.OpenAsync();

        await bouncer.PauseAsync().WaitAsync(TestServers.ScenarioLimit);
        await using (NpgsqlCommand held = new("SELECT 1", connection))
        {
            Task<object?> waiting = held.ExecuteScalarAsync();
            await Task.Delay(300);
            Assert.False(waiting.IsCompleted, "a paused PgBouncer must hold new transactions");
            await bouncer.ResumeAsync().WaitAsync(TestServers.ScenarioLimit);
            Assert.Equal(1, await waiting.WaitAsync(TestServers.ScenarioLimit));
        }

        await bouncer.ReconnectAsync().WaitAsync(TestServers.ScenarioLimit);
        await using NpgsqlCommand after = new("SELECT 1", connection);
        Assert.Equal(1, await after.ExecuteScalarAsync());
    }

    [Fact]
    public async Task StartAsync_LeftoverOfACrashedTestHost_IsKilledByItsPidFileAndRemoved()
    {
        await using PostgresTestServer server = await TestServers.StartLocalAsync();
        await using PgBouncerTestServer orphan = await PgBouncerTestServer.StartAsync(server).WaitAsync(TestServers.ScenarioLimit);
        int orphanPid = Assert.IsType<int>(orphan.ProcessId);

        // Pretend its test host crashed: the owner named in its directory is a process that does not exist.
        await File.WriteAllTextAsync(Path.Combine(orphan.DirectoryPath, "owner"), "999999999 1");

        await using PgBouncerTestServer next = await PgBouncerTestServer.StartAsync(server).WaitAsync(TestServers.ScenarioLimit);

        Assert.False(Directory.Exists(orphan.DirectoryPath));
        Assert.Null(orphan.ProcessId);
        Assert.False(File.Exists($"/proc/{orphanPid}/cmdline") && File.ReadAllText($"/proc/{orphanPid}/cmdline").Contains("pgbouncer", StringComparison.Ordinal));
        Assert.NotNull(next.ProcessId);
    }

    [Fact]
    public async Task StartAsync_ExecutableMissing_SaysWhatToInstall()
    {
        PostgresUnavailableException error = await Assert.ThrowsAsync<PostgresUnavailableException>(() =>
            PgBouncerTestServer.StartAsync("Host=127.0.0.1;Port=1;Username=u;Password=p", new PgBouncerTestServerOptions { ExecutablePath = "/nonexistent/pgbouncer" }));
        Assert.Contains("apt-get install pgbouncer", error.Message, StringComparison.Ordinal);
    }
}
