namespace PoolKit.Testing;

/// <summary>
/// Starts PostgreSQL containers for <see cref="PostgresTestServer.StartAsync(PostgresTestServerOptions?, CancellationToken)"/>.
/// The PoolKit.Testing.Containers package provides one (Testcontainers); when that package is referenced it is found
/// without configuration, so PoolKit.Testing itself depends on Npgsql only.
/// </summary>
public interface IPostgresContainerProvider
{
    /// <summary>Checks cheaply whether a container engine is reachable, before anything is started.</summary>
    /// <param name="getEnvironmentVariable">How to read environment variables (for example <c>DOCKER_HOST</c>).</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns><see langword="null"/> when an engine is reachable; otherwise why not, in words fit for an error
    /// message (never a connection string or a password).</returns>
    Task<string?> FindProblemAsync(Func<string, string?> getEnvironmentVariable, CancellationToken cancellationToken);

    /// <summary>Starts a PostgreSQL container whose superuser is <c>postgres</c> with a random password.</summary>
    /// <param name="imageName">The image, such as <c>postgres:16-alpine</c>.</param>
    /// <param name="maxConnections">The server's <c>max_connections</c>.</param>
    /// <param name="cancellationToken">Cancels the start; whatever was started is removed.</param>
    /// <returns>The running container; disposing it removes the container.</returns>
    Task<IPostgresContainer> StartAsync(string imageName, int maxConnections, CancellationToken cancellationToken);
}
