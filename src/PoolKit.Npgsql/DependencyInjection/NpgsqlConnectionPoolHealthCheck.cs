using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;
using PoolKit.Npgsql.Diagnostics;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>
/// Reports a pool's health from its state and a bounded round trip to the database.
/// </summary>
/// <remarks>
/// <para>Healthy: the probe (<c>SELECT 1</c> on a pooled connection) answered, or every connection is leased and
/// nobody waits (the pool is busy, and its connections are alive). Degraded: callers queue on a saturated pool, or
/// connection attempts failed since the previous check although the database answers now. Unhealthy (the
/// registration's failure status): the database did not answer the probe within the bound, or no connection could
/// be opened (the real error is the result's exception).</para>
/// <para>The probe never waits on a full pool (no hand-out to a waiter is delayed, no acquire timeout is counted,
/// no exhaustion is logged): it takes an idle connection, or lets the pool open one when there is room, bounded by
/// the probe timeout and by half the pool's AcquireTimeout, whichever is shorter. A connection whose probe failed is
/// marked broken. The check logs its failures at Debug only.</para>
/// <para>One instance per pool lives as long as the container, so "since the previous check" means what it says.
/// Shared state: <see cref="_lastCreationFailures"/>, exchanged atomically by concurrent checks.</para>
/// </remarks>
internal sealed class NpgsqlConnectionPoolHealthCheck : IHealthCheck
{
    /// <summary>The default bound of a probe.</summary>
    public static readonly TimeSpan DefaultProbeTimeout = TimeSpan.FromSeconds(3);

    private readonly NpgsqlConnectionPool _pool;
    private readonly ILogger _logger;
    private readonly TimeSpan _probeTimeout;
    private long _lastCreationFailures;

    public NpgsqlConnectionPoolHealthCheck(NpgsqlConnectionPool pool, ILogger logger, TimeSpan? probeTimeout = null)
    {
        _pool = pool;
        _logger = logger;
        TimeSpan bound = probeTimeout ?? DefaultProbeTimeout;
        TimeSpan halfAcquire = pool.Options.AcquireTimeout == Timeout.InfiniteTimeSpan ? bound : pool.Options.AcquireTimeout / 2;
        _probeTimeout = bound < halfAcquire ? bound : halfAcquire;
        _lastCreationFailures = pool.GetStatistics().TotalCreationFailures;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        PoolStatistics before = _pool.GetStatistics();
        if (before.Idle == 0 && before.Live >= before.MaxSize)
        {
            // Full: every connection is leased (or being created). Probing would mean waiting behind real work.
            ExchangeFailures(before);
            return before.Waiting > 0
                ? HealthCheckResult.Degraded($"Pool '{_pool.Name}' is saturated: {before.Waiting} callers wait, all {before.MaxSize} connections are in use.", data: Data(before))
                : HealthCheckResult.Healthy($"Pool '{_pool.Name}' is busy: all {before.MaxSize} connections are in use, nobody waits.", Data(before));
        }

        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(_probeTimeout);
        try
        {
            PoolLease<NpgsqlConnection> lease = _pool.TryAcquire(out PoolLease<NpgsqlConnection> idle)
                ? idle
                : await _pool.AcquireAsync(bound.Token).ConfigureAwait(false);
            var command = new NpgsqlCommand("SELECT 1", lease.Resource);
            try
            {
                await command.ExecuteScalarAsync(bound.Token).ConfigureAwait(false);
            }
            catch
            {
                lease.MarkBroken();
                throw;
            }
            finally
            {
                await command.DisposeAsync().ConfigureAwait(false);
                lease.Dispose();
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            _logger.HealthCheckFailed(_pool.Name, ex);
            PoolStatistics now = _pool.GetStatistics();
            string why = ex is OperationCanceledException
                ? string.Create(CultureInfo.InvariantCulture, $"the database did not answer within {_probeTimeout.TotalSeconds:0.###} s")
                : $"no connection could be used: {ex.GetType().Name}: {ex.Message}";
            return new HealthCheckResult(context.Registration.FailureStatus, $"Pool '{_pool.Name}': {why}.", ex, Data(now));
        }

        PoolStatistics after = _pool.GetStatistics();
        long failed = ExchangeFailures(after);
        if (failed > 0)
        {
            return HealthCheckResult.Degraded($"Pool '{_pool.Name}' serves connections, but {failed} connection attempts failed since the previous check.", data: Data(after));
        }

        if (after.Waiting > 0)
        {
            return HealthCheckResult.Degraded($"Pool '{_pool.Name}' serves connections, but {after.Waiting} callers wait.", data: Data(after));
        }

        return HealthCheckResult.Healthy($"Pool '{_pool.Name}' serves connections.", Data(after));
    }

    private long ExchangeFailures(PoolStatistics s) => s.TotalCreationFailures - Interlocked.Exchange(ref _lastCreationFailures, s.TotalCreationFailures);

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
