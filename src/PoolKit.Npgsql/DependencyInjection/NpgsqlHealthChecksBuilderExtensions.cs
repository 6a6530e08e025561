using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PoolKit.Npgsql;
using PoolKit.Npgsql.DependencyInjection;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds health checks of <see cref="NpgsqlConnectionPool"/>s.</summary>
public static class NpgsqlHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a check of a registered pool: Healthy when it hands out a connection; Degraded when callers queue on a
    /// saturated pool or connection attempts failed since the last check; <paramref name="failureStatus"/> when it
    /// cannot obtain a connection (the real error is the result's exception).
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="poolName">The pool's registration name. Default <see cref="NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName"/>.</param>
    /// <param name="name">The check's name. Default <c>poolkit-npgsql-{poolName}</c>.</param>
    /// <param name="failureStatus">The status when no connection can be obtained. Default <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks. Default: none.</param>
    /// <param name="timeout">How long the check may run. Default: the health check service's default (none).</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="poolName"/> is null or blank.</exception>
    public static IHealthChecksBuilder AddPoolKitNpgsql(
        this IHealthChecksBuilder builder,
        string poolName = NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName,
        string? name = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null,
        TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(poolName);
        return builder.Add(new HealthCheckRegistration(
            name ?? $"poolkit-npgsql-{poolName}",
            sp => new NpgsqlConnectionPoolHealthCheck(
                sp.GetRequiredKeyedService<NpgsqlConnectionPool>(poolName),
                (ILogger?)sp.GetService<ILoggerFactory>()?.CreateLogger<NpgsqlConnectionPool>() ?? NullLogger.Instance),
            failureStatus,
            tags,
            timeout));
    }
}
