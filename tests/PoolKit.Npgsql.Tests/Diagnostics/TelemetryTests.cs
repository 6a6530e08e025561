using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Diagnostics;

/// <summary>What a metrics pipeline sees: usable histogram buckets, and no connection string in Npgsql's own labels.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class TelemetryTests(PostgresServerFixture fixture)
{
    [Fact]
    public async Task DurationHistograms_AdviseBucketsFromSubMillisecondToTensOfSeconds()
    {
        var advised = new ConcurrentDictionary<string, IReadOnlyList<double>?>();
        var recorded = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == PoolKitTelemetry.MeterName && instrument is Histogram<double> histogram)
            {
                advised[instrument.Name] = histogram.Advice?.HistogramBucketBoundaries;
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => recorded.Add(instrument.Name));
        listener.Start();

        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app);
        await UseOnceAsync(pool);

        foreach (string name in new[] { "db.client.connection.create_time", "db.client.connection.wait_time", "db.client.connection.use_time" })
        {
            IReadOnlyList<double>? buckets = Assert.Contains(name, (IReadOnlyDictionary<string, IReadOnlyList<double>?>)advised);
            Assert.NotNull(buckets);
            Assert.True(buckets[0] <= 0.0001, $"{name} starts at {buckets[0]} s");
            Assert.True(buckets[^1] >= 30, $"{name} ends at {buckets[^1]} s");
            Assert.Equal(buckets.Order(), buckets);
            Assert.True(buckets.Count(b => b < 0.01) >= 4, $"{name}: too few buckets below 10 ms");
        }

        Assert.Contains("db.client.connection.wait_time", recorded);
        Assert.Contains("db.client.connection.create_time", recorded);
    }

    [Fact]
    public async Task NpgsqlsOwnMeter_LabelsThePoolsDataSourceWithThePoolName_NeverTheConnectionString()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app);

        var labels = new ConcurrentBag<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Npgsql")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, _, tags, _) => Collect(tags));
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) => Collect(tags));
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) => Collect(tags));
        listener.Start();
        await UseOnceAsync(pool); // Npgsql's operation metrics (db.client.operation.duration and the like)
        listener.RecordObservableInstruments();

        void Collect(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == PoolKitTelemetry.PoolNameTag)
                {
                    labels.Add(tag.Value?.ToString() ?? "");
                }
            }
        }

        // The pool's data source is labelled with the pool's name. (Before, its label was the connection string,
        // which carries the application name too.) Other data sources in the process, such as the test server's
        // admin connections, are Npgsql's own business.
        Assert.Contains(app, labels);
        Assert.All(labels.Where(l => l.Contains(app, StringComparison.Ordinal)), l => Assert.Equal(app, l));
    }
}
