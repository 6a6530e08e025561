using System.Diagnostics;
using System.Net.Sockets;
using Npgsql;

namespace PoolKit.Testing.Tests;

/// <summary>
/// The fault controls, on a local cluster of this class's own (the tests of one class run one at a time). Every
/// scenario is bounded in time and restores the server in a <c>finally</c>.
/// </summary>
public sealed class PostgresTestServerFaultTests : IAsyncLifetime
{
    private PostgresTestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServers.StartLocalAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task StopAsync_Immediate_ConnectionsFailUntilStartAgainAsync()
    {
        try
        {
            await _server.StopAsync(immediate: true).WaitAsync(TestServers.ScenarioLimit);

            Assert.Null(_server.PostmasterProcessId);
            NpgsqlException error = await Assert.ThrowsAnyAsync<NpgsqlException>(() => OpenAsync("stopped").WaitAsync(TestServers.ScenarioLimit));
            SocketException socketError = Assert.IsType<SocketException>(error.InnerException);
            Assert.Equal(SocketError.ConnectionRefused, socketError.SocketErrorCode);
        }
        finally
        {
            await _server.StartAgainAsync().WaitAsync(TestServers.ScenarioLimit);
        }

        Assert.Equal(1, await SelectOneAsync("started-again"));
    }

    [Fact]
    public async Task StopAsync_AlreadyStopped_DoesNothing()
    {
        try
        {
            await _server.StopAsync().WaitAsync(TestServers.ScenarioLimit);
            await _server.StopAsync().WaitAsync(TestServers.ScenarioLimit);

            Assert.Null(_server.PostmasterProcessId);
        }
        finally
        {
            await _server.StartAgainAsync().WaitAsync(TestServers.ScenarioLimit);
            await _server.StartAgainAsync().WaitAsync(TestServers.ScenarioLimit);
        }

        Assert.Equal(1, await SelectOneAsync("stopped-twice"));
    }

    [Fact]
    public async Task RestartAsync_Running_NewPostmasterAnswersOnTheSamePort()
    {
        int before = _server.PostmasterProcessId!.Value;
        int port = _server.Port;

        await _server.RestartAsync().WaitAsync(TestServers.ScenarioLimit);

        Assert.NotEqual(before, _server.PostmasterProcessId);
        Assert.Equal(port, _server.Port);
        Assert.Equal(1, await SelectOneAsync("restarted"));
    }

    [Fact]
    public async Task FreezeAsync_QueryWithTwoSecondTimeout_FailsInBoundedTimeAndWorksAfterThaw()
    {
        NpgsqlConnectionStringBuilder builder = new(_server.GetConnectionString("frozen"))
        {
            CommandTimeout = 2,
            CancellationTimeout = 1000,
            Timeout = 2,
        };
        await using NpgsqlConnection connection = new(builder.ConnectionString);
        await connection.OpenAsync();
        Stopwatch elapsed = Stopwatch.StartNew();
        try
        {
            await _server.FreezeAsync().WaitAsync(TestServers.ScenarioLimit);
            Assert.True(_server.IsFrozen);

            await using NpgsqlCommand command = new("SELECT 1", connection);
            NpgsqlException queryError = await Assert.ThrowsAnyAsync<NpgsqlException>(
                () => command.ExecuteScalarAsync().WaitAsync(TestServers.ScenarioLimit));
            Assert.IsType<TimeoutException>(queryError.InnerException);

            // A new connection cannot get through either: the kernel accepts it, the frozen postmaster never answers.
            await using NpgsqlConnection another = new(builder.ConnectionString);
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => another.OpenAsync().WaitAsync(TestServers.ScenarioLimit));
            Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(20), $"the timeouts took {elapsed.Elapsed}");
        }
        finally
        {
            await _server.ThawAsync().WaitAsync(TestServers.ScenarioLimit);
        }

        Assert.False(_server.IsFrozen);
        Assert.Equal(1, await SelectOneAsync("thawed"));
    }

    [Fact]
    public async Task FreezeAsync_Stopped_ThrowsInvalidOperation()
    {
        try
        {
            await _server.StopAsync().WaitAsync(TestServers.ScenarioLimit);

            await Assert.ThrowsAsync<InvalidOperationException>(() => _server.FreezeAsync());
            Assert.False(_server.IsFrozen);
        }
        finally
        {
            await _server.StartAgainAsync().WaitAsync(TestServers.ScenarioLimit);
        }
    }

    [Fact]
    public async Task StopAsync_Frozen_ThawsAndStops()
    {
        try
        {
            await _server.FreezeAsync().WaitAsync(TestServers.ScenarioLimit);

            await _server.StopAsync(immediate: true).WaitAsync(TestServers.ScenarioLimit);

            Assert.False(_server.IsFrozen);
            Assert.Null(_server.PostmasterProcessId);
        }
        finally
        {
            await _server.ThawAsync().WaitAsync(TestServers.ScenarioLimit);
            await _server.StartAgainAsync().WaitAsync(TestServers.ScenarioLimit);
        }

        Assert.Equal(1, await SelectOneAsync("stopped-frozen"));
    }

    private async Task<NpgsqlConnection> OpenAsync(string applicationName)
    {
        NpgsqlConnection connection = new(_server.GetConnectionString(applicationName));
        try
        {
            await connection.OpenAsync();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private async Task<object?> SelectOneAsync(string applicationName)
    {
        await using NpgsqlConnection connection = await OpenAsync(applicationName).WaitAsync(TestServers.ScenarioLimit);
        await using NpgsqlCommand command = new("SELECT 1", connection);
        return await command.ExecuteScalarAsync();
    }
}
