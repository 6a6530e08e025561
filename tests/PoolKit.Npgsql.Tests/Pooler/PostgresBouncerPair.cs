using PoolKit.Testing;

namespace PoolKit.Npgsql.Tests.Pooler;

/// <summary>A second PgBouncer in front of the fixture's server, with its own pool size, for one test.</summary>
internal sealed class PostgresBouncerPair : IAsyncDisposable
{
    private PostgresBouncerPair(PgBouncerTestServer bouncer) => Bouncer = bouncer;

    public PgBouncerTestServer Bouncer { get; }

    public static async Task<PostgresBouncerPair> StartAsync(PgBouncerFixture fixture, int poolSize) =>
        new(await PgBouncerTestServer.StartAsync(fixture.Server, new PgBouncerTestServerOptions { DefaultPoolSize = poolSize }).WaitAsync(TimeSpan.FromSeconds(30)));

    public ValueTask DisposeAsync() => Bouncer.DisposeAsync();
}
