using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;
using PoolKit.Npgsql.Diagnostics;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>
/// Reports a pool's health from its state, how long its callers waited, and a bounded round trip to the database.
/// </summary>
/// <remarks>
/// <para>Healthy: the probe (<c>SELECT 1</c> on a pooled connection) answered, or every connection is leased (the
/// pool is busy, and its connections are alive), and no caller waited longer than the wait threshold since the
/// previous check: short waits at peak load are normal. Degraded: since the previous check, a caller waited longer
/// than the threshold for a connection (the pool's wait-time histogram, see <see cref="SlowWaitRecorder"/>) or an
/// acquire timed out, or connection attempts failed although the database answers now. Unhealthy (the registration's
/// failure status): the database did not answer the probe within the bound, no connection could be opened (the real
/// error is the result's exception), or every connection is in use and every acquire since the previous check timed
/// out (nobody could get a connection).</para>
/// <para>The probe never waits on a full pool (no hand-out to a waiter is delayed, no acquire timeout is counted,
/// no exhaustion is logged): it takes an idle connection, or lets the pool open one when there is room, bounded by
/// the probe timeout and by half the pool's AcquireTimeout, whichever is shorter. A connection whose probe failed is
/// marked broken. The check logs its failures at Debug only. Descriptions are stable texts (one per condition); the
/// numbers are in the result's data.</para>
/// <para>One instance per pool lives as long as the container, so "since the previous check" means what it says.
/// Shared state: <see cref="_lastCreationFailures"/>, <see cref="_lastTimeouts"/> and <see cref="_lastAcquires"/>,
/// exchanged atomically by concurrent checks, and the recorder's counts (see <see cref="SlowWaitRecorder"/>).</para>
/// </remarks>
internal sealed class NpgsqlConnectionPoolHealthCheck : IHealthCheck, IDisposable
{
    /// <summary>The default bound of a probe.</summary>
    public static readonly TimeSpan DefaultProbeTimeout = TimeSpan.FromSeconds(3);

    private readonly NpgsqlConnectionPool _pool;
    private readonly ILogger _logger;
    private readonly TimeSpan _probeTimeout;
    private readonly SlowWaitRecorder _slowWaits;
    private readonly TimeProvider _time;
    private readonly string _threshold;
    private long _lastCreationFailures;
    private long _lastTimeouts;
    private long _lastAcquires;

    public NpgsqlConnectionPoolHealthCheck(NpgsqlConnectionPool pool, ILogger logger, TimeSpan? probeTimeout = null, TimeSpan? waitThreshold = null, IMeterFactory? meterFactory = null, TimeProvider? timeProvider = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _pool = pool;
        _logger = logger;
        TimeSpan bound = probeTimeout ?? DefaultProbeTimeout;
        TimeSpan halfAcquire = pool.Options.AcquireTimeout == Timeout.InfiniteTimeSpan ? bound : pool.Options.AcquireTimeout / 2;
        _probeTimeout = bound < halfAcquire ? bound : halfAcquire;
        _slowWaits = new SlowWaitRecorder(pool.Name, waitThreshold ?? DefaultWaitThreshold(pool.Options.AcquireTimeout), meterFactory);
        _threshold = _slowWaits.Threshold.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        PoolStatistics now = pool.GetStatistics();
        _lastCreationFailures = now.TotalCreationFailures;
        _lastTimeouts = now.TotalTimeouts;
        _lastAcquires = now.TotalAcquires;
    }

    /// <summary>The default wait threshold: a tenth of <paramref name="acquireTimeout"/>, or 1 s when it is infinite.</summary>
    /// <returns>The threshold.</returns>
    public static TimeSpan DefaultWaitThreshold(TimeSpan acquireTimeout) =>
        acquireTimeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromSeconds(1) : acquireTimeout / 10;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        PoolStatistics before = _pool.GetStatistics();
        if (before.Idle == 0 && before.Live >= before.MaxSize)
        {
            // Full: every connection is leased (or being created). Probing would mean waiting behind real work.
            long failures = ExchangeFailures(before);
            Window full = TakeWindow(before);
            Dictionary<string, object> data = Data(before, full, failures);
            if (full.Timeouts > 0 && full.Acquires == 0)
            {
                return new HealthCheckResult(context.Registration.FailureStatus, $"Pool '{_pool.Name}': no connection could be had: every connection is in use and every acquire since the previous check timed out.", data: data);
            }

            return full.IsSlow
                ? HealthCheckResult.Degraded(SlowDescription(), data: data)
                : HealthCheckResult.Healthy($"Pool '{_pool.Name}' is busy: every connection is in use, and no caller waited longer than {_threshold} s since the previous check.", data);
        }

        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(_probeTimeout);
        try
        {
            PoolLease<NpgsqlConnection> lease;
            if (!_pool.TryAcquire(out lease))
            {
                long start = _time.GetTimestamp();
                lease = await _pool.AcquireAsync(bound.Token).ConfigureAwait(false);
                if (_time.GetElapsedTime(start) > _slowWaits.Threshold)
                {
                    // The probe's own wait (a connection opened for it) is not a caller's.
                    _slowWaits.ForgetOne();
                }
            }

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
            return new HealthCheckResult(context.Registration.FailureStatus, $"Pool '{_pool.Name}': {why}.", ex, Data(now, default, 0));
        }

        PoolStatistics after = _pool.GetStatistics();
        long failed = ExchangeFailures(after);
        Window window = TakeWindow(after);
        Dictionary<string, object> afterData = Data(after, window, failed);
        if (failed > 0)
        {
            return HealthCheckResult.Degraded($"Pool '{_pool.Name}' serves connections, but connection attempts failed since the previous check.", data: afterData);
        }

        if (window.IsSlow)
        {
            return HealthCheckResult.Degraded(SlowDescription(), data: afterData);
        }

        return HealthCheckResult.Healthy($"Pool '{_pool.Name}' serves connections.", afterData);
    }

    public void Dispose() => _slowWaits.Dispose();

    private string SlowDescription() => $"Pool '{_pool.Name}' serves connections, but callers waited longer than {_threshold} s for one since the previous check.";

    private long ExchangeFailures(PoolStatistics s) => s.TotalCreationFailures - Interlocked.Exchange(ref _lastCreationFailures, s.TotalCreationFailures);

    private Window TakeWindow(PoolStatistics s)
    {
        (long slow, TimeSpan longest) = _slowWaits.Take();
        return new Window(
            slow,
            longest,
            s.TotalTimeouts - Interlocked.Exchange(ref _lastTimeouts, s.TotalTimeouts),
            s.TotalAcquires - Interlocked.Exchange(ref _lastAcquires, s.TotalAcquires));
    }

    private static Dictionary<string, object> Data(PoolStatistics s, Window w, long creationFailures) => new()
    {
        ["idle"] = s.Idle,
        ["leased"] = s.Leased,
        ["creating"] = s.Creating,
        ["waiting"] = s.Waiting,
        ["maxSize"] = s.MaxSize,
        ["totalCreationFailures"] = s.TotalCreationFailures,
        ["totalTimeouts"] = s.TotalTimeouts,
        ["creationFailuresSincePreviousCheck"] = creationFailures,
        ["slowWaitsSincePreviousCheck"] = w.SlowWaits,
        ["longestSlowWaitSeconds"] = w.Longest.TotalSeconds,
        ["timeoutsSincePreviousCheck"] = w.Timeouts,
        ["acquiresSincePreviousCheck"] = w.Acquires,
    };

    /// <summary>What happened to acquires since the previous check.</summary>
    private readonly record struct Window(long SlowWaits, TimeSpan Longest, long Timeouts, long Acquires)
    {
        public bool IsSlow => SlowWaits > 0 || Timeouts > 0;
    }
}
