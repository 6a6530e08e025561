using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using PoolKit.Npgsql.Diagnostics;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>
/// Reports a pool's state: Degraded when callers queue on a saturated pool or creations failed since the last
/// check, the registration's failure status when no connection can be obtained, Healthy otherwise.
/// </summary>
/// <remarks>
/// A saturated pool is reported without acquiring (the check must not queue behind real work). Otherwise the check
/// acquires and returns one connection, which validates it when it has been idle past the bypass window.
/// Shared state: <see cref="_lastCreationFailures"/>, exchanged atomically by concurrent checks.
/// </remarks>
internal sealed class NpgsqlConnectionPoolHealthCheck : IHealthCheck
{
    private readonly NpgsqlConnectionPool _pool;
    private readonly ILogger _logger;
    private long _lastCreationFailures;

    public NpgsqlConnectionPoolHealthCheck(NpgsqlConnectionPool pool, ILogger logger)
    {
        _pool = pool;
        _logger = logger;
        _lastCreationFailures = pool.GetStatistics().TotalCreationFailures;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        PoolStatistics before = _pool.GetStatistics();
        if (before.Waiting > 0 && before.Leased + before.Creating >= before.MaxSize)
        {
            return HealthCheckResult.Degraded($"Pool '{_pool.Name}' is saturated: {before.Waiting} callers wait, all {before.MaxSize} connections are in use.", data: Data(before));
        }

        try
        {
            PoolLease<global::Npgsql.NpgsqlConnection> lease = await _pool.AcquireAsync(cancellationToken).ConfigureAwait(false);
            await lease.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.HealthCheckFailed(_pool.Name, ex);
            return new HealthCheckResult(context.Registration.FailureStatus, $"Pool '{_pool.Name}' cannot obtain a connection: {ex.GetType().Name}.", ex, Data(_pool.GetStatistics()));
        }

        PoolStatistics after = _pool.GetStatistics();
        long previous = Interlocked.Exchange(ref _lastCreationFailures, after.TotalCreationFailures);
        if (after.TotalCreationFailures > previous)
        {
            return HealthCheckResult.Degraded($"Pool '{_pool.Name}' serves connections, but {after.TotalCreationFailures - previous} connection attempts failed since the last check.", data: Data(after));
        }

        return HealthCheckResult.Healthy($"Pool '{_pool.Name}' serves connections.", Data(after));
    }

    private static Dictionary<string, object> Data(PoolStatistics s) => new()
    {
        ["idle"] = s.Idle,
        ["leased"] = s.Leased,
        ["creating"] = s.Creating,
        ["waiting"] = s.Waiting,
        ["maxSize"] = s.MaxSize,
        ["totalCreationFailures"] = s.TotalCreationFailures,
        ["totalTimeouts"] = s.TotalTimeouts,
    };
}
