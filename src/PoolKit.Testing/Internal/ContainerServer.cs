using System.Globalization;
using System.Security.Cryptography;
using Testcontainers.PostgreSql;

namespace PoolKit.Testing.Internal;

/// <summary>Starts a PostgreSQL container through Testcontainers.</summary>
internal static class ContainerServer
{
    /// <summary>Starts a container; disposes it again when the start fails.</summary>
    internal static async Task<PostgreSqlContainer> StartAsync(
        string imageName,
        int maxConnections,
        CancellationToken cancellationToken)
    {
        PostgreSqlContainer container = new PostgreSqlBuilder(imageName)
            .WithUsername("postgres")
            .WithDatabase("postgres")
            .WithPassword(RandomNumberGenerator.GetHexString(32, lowercase: true))
            .WithCommand("-c", "max_connections=" + maxConnections.ToString(CultureInfo.InvariantCulture))
            .Build();
        try
        {
            await container.StartAsync(cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch
        {
            await container.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
