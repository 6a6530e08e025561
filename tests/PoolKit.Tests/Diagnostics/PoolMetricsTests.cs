using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Diagnostics;

public sealed class PoolMetricsTests
{
    [Fact]
    public async Task Metrics_CountsByState_AreObservedWithThePoolNameAndState()
    {
        using var meterFactory = new TestMeterFactory();
        var time = new FakeTimeProvider();
        await using var pool = new ConnectionPool<FakeResource>(new FakePolicy(), new ConnectionPoolOptions { Name = "orders", MaxSize = 5, MinSize = 0, DisposeTimeout = TimeSpan.Zero }, meterFactory: meterFactory, timeProvider: time);
        using var counts = new MetricCollector<long>(meterFactory, PoolKitTelemetry.MeterName, "db.client.connection.count");
        using var max = new MetricCollector<long>(meterFactory, PoolKitTelemetry.MeterName, "db.client.connection.max");
        PoolLease<FakeResource> a = await pool.AcquireAsync();
        PoolLease<FakeResource> b = await pool.AcquireAsync();
        a.Dispose();

        counts.RecordObservableInstruments();
        max.RecordObservableInstruments();

        IReadOnlyList<CollectedMeasurement<long>> measured = counts.GetMeasurementSnapshot();
        Assert.Equal(1, measured.Single(m => (string?)m.Tags[PoolKitTelemetry.StateTag] == "idle").Value);
        Assert.Equal(1, measured.Single(m => (string?)m.Tags[PoolKitTelemetry.StateTag] == "used").Value);
        Assert.All(measured, m => Assert.Equal("orders", m.Tags[PoolKitTelemetry.PoolNameTag]));
        Assert.Equal(5, max.LastMeasurement!.Value);
        b.Dispose();
    }

    [Fact]
    public async Task Metrics_TimeoutsWaitAndUseTimes_AreRecorded()
    {
        using var meterFactory = new TestMeterFactory();
        var time = new FakeTimeProvider();
        await using var pool = new ConnectionPool<FakeResource>(new FakePolicy(), new ConnectionPoolOptions { Name = "m", MaxSize = 1, AcquireTimeout = TimeSpan.FromSeconds(1), DisposeTimeout = TimeSpan.Zero }, meterFactory: meterFactory, timeProvider: time);
        using var timeouts = new MetricCollector<long>(meterFactory, PoolKitTelemetry.MeterName, "db.client.connection.timeouts");
        using var useTime = new MetricCollector<double>(meterFactory, PoolKitTelemetry.MeterName, "db.client.connection.use_time");
        using var waitTime = new MetricCollector<double>(meterFactory, PoolKitTelemetry.MeterName, "db.client.connection.wait_time");
        using var pending = new MetricCollector<long>(meterFactory, PoolKitTelemetry.MeterName, "db.client.connection.pending_requests");

        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        pending.RecordObservableInstruments();
        Assert.Equal(1, pending.LastMeasurement!.Value);
        time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting);
        time.Advance(TimeSpan.FromSeconds(2));
        held.Dispose();

        Assert.Equal(1, timeouts.LastMeasurement!.Value);
        Assert.Equal("m", timeouts.LastMeasurement.Tags[PoolKitTelemetry.PoolNameTag]);
        Assert.Equal(3.0, useTime.LastMeasurement!.Value, precision: 6);
        Assert.Equal(0.0, waitTime.LastMeasurement!.Value, precision: 6);
        pending.RecordObservableInstruments();
        Assert.Equal(0, pending.LastMeasurement!.Value);
    }

    [Fact]
    public async Task Statistics_AcquiresWaitsCancellationsRejectionsAndDestroyedByReason_AreCountedAndObserved()
    {
        using var meterFactory = new TestMeterFactory();
        var time = new FakeTimeProvider();
        var policy = new FakePolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "s", MaxSize = 1, MaxWaiters = 1, DisposeTimeout = TimeSpan.Zero }, meterFactory: meterFactory, timeProvider: time);
        using var acquires = new MetricCollector<long>(meterFactory, PoolKitTelemetry.MeterName, "poolkit.acquires");
        using var destroyed = new MetricCollector<long>(meterFactory, PoolKitTelemetry.MeterName, "poolkit.destroyed");

        PoolLease<FakeResource> first = await pool.AcquireAsync();
        using var cts = new CancellationTokenSource();
        Task<PoolLease<FakeResource>> canceled = pool.AcquireAsync(cts.Token).AsTask();
        await Assert.ThrowsAsync<PoolExhaustedException>(() => pool.AcquireAsync().AsTask()); // the queue (1) is full
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);
        Task<PoolLease<FakeResource>> waited = pool.AcquireAsync().AsTask();
        first.MarkBroken();
        first.Dispose();
        PoolLease<FakeResource> second = await waited;
        second.MarkClosedByCaller();
        second.Dispose();
        PoolLease<FakeResource> third = await pool.AcquireAsync();
        third.Dispose();
        await pool.ClearAsync();

        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(3, stats.TotalAcquires);
        Assert.Equal(2, stats.TotalAcquiresWaited);
        Assert.Equal(1, stats.TotalAcquiresCanceled);
        Assert.Equal(1, stats.TotalAcquiresRejected);
        Assert.Equal(new PoolDestroyedCounts(Broken: 1, ClosedByCaller: 1, Unusable: 0, ValidationFailed: 0, ResetFailed: 0, Lifetime: 0, Idle: 0, Cleared: 1, PoolDisposed: 0), stats.DestroyedBy);
        Assert.Equal(3, stats.TotalDestroyed);

        acquires.RecordObservableInstruments();
        destroyed.RecordObservableInstruments();
        Assert.Equal(3, acquires.LastMeasurement!.Value);
        Assert.Equal(1, destroyed.GetMeasurementSnapshot().Last(m => (string?)m.Tags[PoolKitTelemetry.ReasonTag] == "closed_by_caller").Value);
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (Meter meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
