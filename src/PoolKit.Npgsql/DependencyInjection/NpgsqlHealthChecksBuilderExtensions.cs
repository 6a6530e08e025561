using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
    /// Adds a check of a registered pool. Healthy when a pooled connection answers <c>SELECT 1</c>, or when every
    /// connection is leased, and no caller waited longer than <paramref name="waitThreshold"/> since the previous
    /// check (short waits at peak load are normal); Degraded when, since the previous check, a caller waited longer
    /// than <paramref name="waitThreshold"/> for a connection, an acquire timed out, or connection attempts failed;
    /// <paramref name="failureStatus"/> when the database does not answer within <paramref name="probeTimeout"/>, no
    /// connection can be opened (the real error is the result's exception), or every connection is in use and every
    /// acquire since the previous check timed out. The probe never waits on a full pool, so it never counts an acquire
    /// timeout nor logs an exhaustion warning.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="poolName">The pool's registration name. Default <see cref="NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName"/>.</param>
    /// <param name="name">The check's name. Default <c>poolkit-npgsql-{poolName}</c>.</param>
    /// <param name="failureStatus">The status when the database cannot be reached. Default <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks. Default: none.</param>
    /// <param name="timeout">How long the check may run. Default: the health check service's default (none).</param>
    /// <param name="probeTimeout">The bound of the database probe. Default 3 s, and never more than half the pool's AcquireTimeout.</param>
    /// <param name="waitThreshold">How long a caller may wait for a connection before the pool counts as Degraded.
    /// Default: a tenth of the pool's AcquireTimeout (1.5 s with the default 15 s), or 1 s when it is infinite. A wait
    /// counts when it ends: with a connection (the pool's <c>db.client.connection.wait_time</c> histogram, which the
    /// check listens to, so the pool reads the precise clock once per hand-out) or in a timeout.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="poolName"/> is null or blank.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="probeTimeout"/> or <paramref name="waitThreshold"/> is not positive.</exception>
    public static IHealthChecksBuilder AddPoolKitNpgsql(
        this IHealthChecksBuilder builder,
        string poolName = NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName,
        string? name = null,
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null,
        TimeSpan? timeout = null,
        TimeSpan? probeTimeout = null,
        TimeSpan? waitThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(poolName);
        if (probeTimeout is { } probe)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(probe, TimeSpan.Zero, nameof(probeTimeout));
        }

        if (waitThreshold is { } threshold)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(threshold, TimeSpan.Zero, nameof(waitThreshold));
        }

        // One check per registration and container, living as long as the container: it remembers the failure count
        // of its previous run.
        string checkName = name ?? $"poolkit-npgsql-{poolName}";
        string key = "PoolKit.Npgsql.HealthCheck:" + checkName;
        builder.Services.TryAddKeyedSingleton(key, (sp, _) => new NpgsqlConnectionPoolHealthCheck(
            sp.GetRequiredKeyedService<NpgsqlConnectionPool>(poolName),
            (ILogger?)sp.GetService<ILoggerFactory>()?.CreateLogger<NpgsqlConnectionPool>() ?? NullLogger.Instance,
            probeTimeout,
            waitThreshold,
            sp.GetService<IMeterFactory>(),
            sp.GetService<TimeProvider>()));
        return builder.Add(new HealthCheckRegistration(
            checkName,
            sp => sp.GetRequiredKeyedService<NpgsqlConnectionPoolHealthCheck>(key),
            failureStatus,
            tags,
            timeout));
    }
}
