
namespace PoolKit.Testing.Tests;

/// <summary>Options and limits shared by the tests that need a local cluster of their own.</summary>
internal static class TestServers
{
    /// <summary>The upper bound for any single fault scenario; a hang fails the test instead of the run.</summary>
    public static readonly TimeSpan ScenarioLimit = TimeSpan.FromSeconds(45);

    /// <summary>Options that ignore the environment and Docker, so the server is always a local cluster.</summary>
    public static PostgresTestServerOptions LocalOnly(int maxConnections = 20) => new()
    {
        EnvironmentVariable = null,
        UseDocker = false,
        MaxConnections = maxConnections,
    };

    /// <summary>Starts a local cluster for one test.</summary>
    public static Task<PostgresTestServer> StartLocalAsync(int maxConnections = 20) =>
        PostgresTestServer.StartAsync(LocalOnly(maxConnections)).WaitAsync(ScenarioLimit);
}
