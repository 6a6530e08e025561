using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Diagnostics;

/// <summary>
/// Npgsql's own meter does not report PoolKit's connections with the idle/used split reversed, and still reports every
/// other data source (issue 18, item 7).
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlMeterConnectionSeriesTests(PostgresServerFixture fixture)
{
    private const string StateTag = "db.client.connection.state";

    [Fact]
    public async Task ConnectionCount_PoolKitsConnectionsAbsent_OtherDataSourcesSeriesKept()
    {
        string poolKitApp = AppName();
        string npgsqlApp = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, poolKitApp, o => o.MaxSize = 2);
        var npgsqlBuilder = new NpgsqlDataSourceBuilder(fixture.Server.GetConnectionString(npgsqlApp, pooling: true)) { Name = npgsqlApp };
        await using NpgsqlDataSource npgsql = npgsqlBuilder.Build();

        // PoolKit: two connections, both idle in PoolKit's pool. Npgsql's pool: one idle, one used.
        PoolLease<NpgsqlConnection> a = await pool.AcquireAsync();
        PoolLease<NpgsqlConnection> b = await pool.AcquireAsync();
        a.Dispose();
        b.Dispose();
        await using NpgsqlConnection used = await npgsql.OpenConnectionAsync();
        await (await npgsql.OpenConnectionAsync()).DisposeAsync();
        Assert.Equal(2, await fixture.Server.CountBackendsAsync(poolKitApp));
        Assert.Equal(2, await fixture.Server.CountBackendsAsync(npgsqlApp));

        Dictionary<(string Pool, string State), int> counts = ObserveNpgsqlConnectionCounts();

        Assert.DoesNotContain(counts.Keys, k => k.Pool == poolKitApp);
        Assert.Equal(1, counts[(npgsqlApp, "idle")]);
        Assert.Equal(1, counts[(npgsqlApp, "used")]);
        PoolStatistics stats = await QuietStatisticsAsync(pool);
        Assert.Equal(2, stats.Idle); // what PoolKit's own meter reports, and the truth
    }

    private static Dictionary<(string Pool, string State), int> ObserveNpgsqlConnectionCounts()
    {
        var counts = new ConcurrentDictionary<(string, string), int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Npgsql" && instrument.Name == "db.client.connection.count")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            string pool = "";
            string state = "";
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == PoolKitTelemetry.PoolNameTag)
                {
                    pool = tag.Value?.ToString() ?? "";
                }
                else if (tag.Key == StateTag)
                {
                    state = tag.Value?.ToString() ?? "";
                }
            }

            counts[(pool, state)] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return new Dictionary<(string Pool, string State), int>(counts);
    }
}
