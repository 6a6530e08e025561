using PoolKit.Testing;

namespace PoolKit.Npgsql.Tests.Pooler;

/// <summary>
/// A local cluster with a PgBouncer in front (transaction mode, <c>default_pool_size = 1</c>: every client shares one
/// server connection, which makes what leaks between clients deterministic). Owned by one test class.
/// </summary>
public sealed class PgBouncerFixture : IAsyncLifetime
{
    private PostgresTestServer? _server;
    private PgBouncerTestServer? _bouncer;

    public PostgresTestServer Server => _server ?? throw new InvalidOperationException("Not started.");

    public PgBouncerTestServer Bouncer => _bouncer ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync()
    {
        _server = await PostgresTestServer.StartAsync(TestSupport.LocalOnly(40)).WaitAsync(TimeSpan.FromSeconds(60));
        _bouncer = await PgBouncerTestServer.StartAsync(_server, new PgBouncerTestServerOptions { DefaultPoolSize = 1 }).WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_bouncer is not null)
            {
                await _bouncer.DisposeAsync();
            }
        }
        finally
        {
            if (_server is not null)
            {
                await _server.DisposeAsync();
            }
        }
    }
}
