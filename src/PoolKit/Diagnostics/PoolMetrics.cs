using System.Diagnostics.Metrics;

namespace PoolKit.Diagnostics;

/// <summary>
/// The pool's instruments, shaped after OpenTelemetry's database client connection-pool conventions (see
/// <see cref="PoolKitTelemetry"/>). Gauges are observed from a statistics snapshot when a listener collects
/// them, so they cost nothing on the rent/return path; histograms record only when a listener is enabled.
/// </summary>
internal sealed class PoolMetrics : IDisposable
{
#if NET9_0_OR_GREATER
    /// <summary>
    /// Bucket boundaries (seconds) for the duration histograms, from 100 µs to a minute: waits and creations range
    /// from sub-millisecond hand-offs to timeouts of tens of seconds, which OpenTelemetry's default buckets
    /// (0, 5, 10, 25, ... 10,000 s) lump into the first bucket.
    /// </summary>
    private static readonly InstrumentAdvice<double> s_durationAdvice = new()
    {
        HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    };
#endif

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Func<PoolStatistics?> _statistics;
    private readonly KeyValuePair<string, object?> _poolTag;
    private readonly Counter<long> _timeouts;
    private readonly Histogram<double> _createTime;
    private readonly Histogram<double> _waitTime;
    private readonly Histogram<double> _useTime;

    /// <param name="poolName">The pool's name, carried by every measurement.</param>
    /// <param name="meterFactory">Creates the meter when given (dependency injection); otherwise the pool owns a meter of its own.</param>
    /// <param name="statistics">Returns the pool's snapshot, or <see langword="null"/> once the pool is disposed.</param>
    public PoolMetrics(string poolName, IMeterFactory? meterFactory, Func<PoolStatistics?> statistics)
    {
        _statistics = statistics;
        _poolTag = new KeyValuePair<string, object?>(PoolKitTelemetry.PoolNameTag, poolName);
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(PoolKitTelemetry.MeterName));
        }
        else
        {
            _meter = new Meter(PoolKitTelemetry.MeterName);
            _ownsMeter = true;
        }

        _meter.CreateObservableUpDownCounter("db.client.connection.count", ObserveCounts, "{connection}", "The number of connections that are currently in the state described by the state attribute.");
        _meter.CreateObservableUpDownCounter("db.client.connection.max", () => Observe(static s => s.MaxSize), "{connection}", "The maximum number of open connections allowed.");
        _meter.CreateObservableUpDownCounter("db.client.connection.idle.min", () => Observe(static s => s.MinSize), "{connection}", "The minimum number of idle open connections allowed.");
        _meter.CreateObservableUpDownCounter("db.client.connection.idle.max", () => Observe(static s => s.MaxSize), "{connection}", "The maximum number of idle open connections allowed.");
        _meter.CreateObservableUpDownCounter("db.client.connection.pending_requests", () => Observe(static s => s.Waiting), "{request}", "The number of current pending requests for an open connection.");
        _meter.CreateObservableCounter("poolkit.acquires", () => Observe(static s => s.TotalAcquires), "{acquire}", "The leases handed out.");
        _meter.CreateObservableCounter("poolkit.acquires.waited", () => Observe(static s => s.TotalAcquiresWaited), "{acquire}", "The acquires that had to wait in the queue.");
        _meter.CreateObservableCounter("poolkit.acquires.canceled", () => Observe(static s => s.TotalAcquiresCanceled), "{acquire}", "The acquires ended by the caller's cancellation.");
        _meter.CreateObservableCounter("poolkit.acquires.rejected", () => Observe(static s => s.TotalAcquiresRejected), "{acquire}", "The acquires refused because the wait queue was full.");
        _meter.CreateObservableCounter("poolkit.acquires.shed", () => Observe(static s => s.TotalAcquiresShed), "{acquire}", "The acquires shed at once because the pool estimated they would wait longer than the queue-time target or their deadline.");
        _meter.CreateObservableCounter("poolkit.destroyed", ObserveDestroyed, "{connection}", "The connections destroyed, by reason.");
        _meter.CreateObservableCounter("poolkit.abandoned", () => Observe(static s => s.TotalAbandoned), "{operation}", "The resets, validations and destructions abandoned because they outlived their bound.");
        _timeouts = _meter.CreateCounter<long>("db.client.connection.timeouts", "{timeout}", "The number of connection timeouts that have occurred trying to obtain a connection from the pool.");
        // Bucket advice needs System.Diagnostics.DiagnosticSource 9 (the .NET 9 runtime); .NET 8 keeps the exporter's default.
#if NET9_0_OR_GREATER
        _createTime = _meter.CreateHistogram("db.client.connection.create_time", "s", "The time it took to create a new connection.", tags: null, s_durationAdvice);
        _waitTime = _meter.CreateHistogram("db.client.connection.wait_time", "s", "The time it took to obtain an open connection from the pool.", tags: null, s_durationAdvice);
        _useTime = _meter.CreateHistogram("db.client.connection.use_time", "s", "The time between borrowing a connection and returning it to the pool.", tags: null, s_durationAdvice);
#else
        _createTime = _meter.CreateHistogram<double>("db.client.connection.create_time", "s", "The time it took to create a new connection.");
        _waitTime = _meter.CreateHistogram<double>("db.client.connection.wait_time", "s", "The time it took to obtain an open connection from the pool.");
        _useTime = _meter.CreateHistogram<double>("db.client.connection.use_time", "s", "The time between borrowing a connection and returning it to the pool.");
#endif
    }

    public void RecordTimeout() => _timeouts.Add(1, _poolTag);

    /// <summary>Gets whether anybody listens to the wait-time histogram (so the pool reads the precise clock only then).</summary>
    public bool WaitTimeEnabled => _waitTime.Enabled;

    /// <summary>Gets whether anybody listens to the use-time histogram (so the pool reads the precise clock only then).</summary>
    public bool UseTimeEnabled => _useTime.Enabled;

    public void RecordCreateTime(TimeSpan elapsed)
    {
        if (_createTime.Enabled)
        {
            _createTime.Record(elapsed.TotalSeconds, _poolTag);
        }
    }

    public void RecordWaitTime(TimeSpan elapsed) => _waitTime.Record(elapsed.TotalSeconds, _poolTag);

    public void RecordUseTime(TimeSpan elapsed) => _useTime.Record(elapsed.TotalSeconds, _poolTag);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private IEnumerable<Measurement<long>> ObserveCounts()
    {
        if (_statistics() is not { } s)
        {
            return [];
        }

        return
        [
            new Measurement<long>(s.Idle, _poolTag, new KeyValuePair<string, object?>(PoolKitTelemetry.StateTag, "idle")),
            new Measurement<long>(s.Live - s.Idle, _poolTag, new KeyValuePair<string, object?>(PoolKitTelemetry.StateTag, "used")),
        ];
    }

    private IEnumerable<Measurement<long>> ObserveDestroyed()
    {
        if (_statistics() is not { } s)
        {
            return [];
        }

        PoolDestroyedCounts d = s.DestroyedBy;
        return
        [
            Reason(d.Broken, "broken"),
            Reason(d.ClosedByCaller, "closed_by_caller"),
            Reason(d.Unusable, "unusable"),
            Reason(d.ValidationFailed, "validation_failed"),
            Reason(d.ResetFailed, "reset_failed"),
            Reason(d.Lifetime, "lifetime"),
            Reason(d.Idle, "idle"),
            Reason(d.Cleared, "cleared"),
            Reason(d.PoolDisposed, "pool_disposed"),
            Reason(d.Resized, "resized"),
        ];

        Measurement<long> Reason(long value, string reason) =>
            new(value, _poolTag, new KeyValuePair<string, object?>(PoolKitTelemetry.ReasonTag, reason));
    }

    private IEnumerable<Measurement<long>> Observe(Func<PoolStatistics, long> select) =>
        _statistics() is { } s ? [new Measurement<long>(select(s), _poolTag)] : [];
}
