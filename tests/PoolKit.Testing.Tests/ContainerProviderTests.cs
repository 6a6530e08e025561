using Npgsql;
using PoolKit.Testing.Containers;
using PoolKit.Testing.Internal;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Testing.Tests;

/// <summary>
/// The container source through its hook: PoolKit.Testing finds PoolKit.Testing.Containers by name when it is
/// referenced (as it is here), and uses whatever <see cref="IPostgresContainerProvider"/> the options name.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class ContainerProviderTests(PostgresServerFixture fixture)
{
    [Fact]
    public void Discovery_ContainersPackageReferenced_FindsTestcontainersProvider()
    {
        IPostgresContainerProvider? provider = ContainerProviderDiscovery.Find(out string? problem);

        Assert.IsType<TestcontainersPostgresProvider>(provider);
        Assert.Null(problem);
    }

    [Fact]
    public void Discovery_ContainersPackageAbsent_ReturnsNullSayingWhichPackageToAdd()
    {
        IPostgresContainerProvider? provider = ContainerProviderDiscovery.Find(
            "PoolKit.Testing.Containers.TestcontainersPostgresProvider, PoolKit.Testing.NotReferenced", out string? problem);

        Assert.Null(provider);
        Assert.Contains("PoolKit.Testing.Containers package is not referenced", problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_ProviderFindsEngine_ReturnsContainerServerAndDisposalRemovesIt()
    {
        FakeProvider provider = new(problem: null, fixture.Server.ConnectionString);
        PostgresTestServerOptions options = new()
        {
            EnvironmentVariable = null,
            ContainerProvider = provider,
            BinarySearchPaths = [],
            MaxConnections = 42,
        };

        PostgresTestServer server = await PostgresTestServer.StartAsync(options);
        await using (server)
        {
            Assert.Equal(PostgresServerSource.Container, server.Source);
            Assert.Equal((options.ImageName, 42), (provider.Image, provider.MaxConnections));
            await using NpgsqlConnection connection = new(server.GetConnectionString("container-hook"));
            await connection.OpenAsync();
            Assert.False(provider.Container!.Disposed);
        }

        Assert.True(provider.Container.Disposed);
    }

    [Fact]
    public async Task StartAsync_ProviderReportsNoEngine_FallsBackAndSaysWhy()
    {
        PostgresTestServerOptions options = new()
        {
            EnvironmentVariable = null,
            ContainerProvider = new FakeProvider(problem: "no engine (test)", connectionString: "unused"),
            BinarySearchPaths = [],
        };

        PostgresUnavailableException error = await Assert.ThrowsAsync<PostgresUnavailableException>(() => PostgresTestServer.StartAsync(options));

        Assert.Contains("Docker: no engine (test)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestcontainersProvider_NoDockerHostAndNoSocket_ReportsTheProblem()
    {
        if (File.Exists(DockerEngineSocket))
        {
            return; // a machine with Docker: nothing to check here (this repository's CI has none)
        }

        string? problem = await new TestcontainersPostgresProvider().FindProblemAsync(_ => null, CancellationToken.None);

        Assert.Contains("no engine found", problem, StringComparison.Ordinal);
    }

    private const string DockerEngineSocket = "/var/run/docker.sock";

    private sealed class FakeProvider(string? problem, string connectionString) : IPostgresContainerProvider
    {
        public string? Image { get; private set; }

        public int MaxConnections { get; private set; }

        public FakeContainer? Container { get; private set; }

        public Task<string?> FindProblemAsync(Func<string, string?> getEnvironmentVariable, CancellationToken cancellationToken) =>
            Task.FromResult(problem);

        public Task<IPostgresContainer> StartAsync(string imageName, int maxConnections, CancellationToken cancellationToken)
        {
            (Image, MaxConnections) = (imageName, maxConnections);
            Container = new FakeContainer(connectionString);
            return Task.FromResult<IPostgresContainer>(Container);
        }
    }

    private sealed class FakeContainer(string connectionString) : IPostgresContainer
    {
        public string ConnectionString => connectionString;

        public bool Disposed { get; private set; }

        public ValueTask DisposeAsync()
        {
            Disposed = true;
            return ValueTask.CompletedTask;
        }
    }
}
