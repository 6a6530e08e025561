using PoolKit.Testing;

namespace PoolKit.Npgsql.Tests.Faults;

/// <summary>A local cluster owned by one test class, so stopping, restarting or freezing it affects nobody else.</summary>
public sealed class DedicatedServerFixture : IAsyncLifetime
{
    private PostgresTestServer? _server;

    public PostgresTestServer Server => _server ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync() => _server = await PostgresTestServer.StartAsync(TestSupport.LocalOnly()).WaitAsync(TimeSpan.FromSeconds(60));

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
