using System.Globalization;
using System.Security.Cryptography;
using Testcontainers.PostgreSql;

namespace PoolKit.Testing.Containers;

/// <summary>
/// Starts PostgreSQL containers through Testcontainers. <see cref="PostgresTestServer.StartAsync(PostgresTestServerOptions?, CancellationToken)"/>
/// finds and uses it whenever this package is referenced (<see cref="PostgresTestServerOptions.ContainerProvider"/>
/// left <see langword="null"/>); set that option to an instance to make the choice explicit.
/// </summary>
public sealed class TestcontainersPostgresProvider : IPostgresContainerProvider
{
    /// <inheritdoc />
    public Task<string?> FindProblemAsync(Func<string, string?> getEnvironmentVariable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(getEnvironmentVariable);
        return DockerEngine.FindProblemAsync(getEnvironmentVariable, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="imageName"/> is null or blank.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxConnections"/> is not positive.</exception>
    public async Task<IPostgresContainer> StartAsync(string imageName, int maxConnections, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageName);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxConnections);
        PostgreSqlContainer container = new PostgreSqlBuilder(imageName)
            .WithUsername("postgres")
            .WithDatabase("postgres")
            .WithPassword(RandomNumberGenerator.GetHexString(32, lowercase: true))
            .WithCommand("-c", "max_connections=" + maxConnections.ToString(CultureInfo.InvariantCulture))
            .Build();
        try
        {
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
            return new StartedContainer(container);
        }
        catch
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A started Testcontainers container as an <see cref="IPostgresContainer"/>.</summary>
    private sealed class StartedContainer(PostgreSqlContainer container) : IPostgresContainer
    {
        public string ConnectionString { get; } = container.GetConnectionString();

        public ValueTask DisposeAsync() => container.DisposeAsync();
    }
}
