using System.Text.Json;

namespace PoolKit.Cli.Sizing;

/// <summary>
/// Writes the sizing report as JSON: the settings, one entry per measured size under <c>results</c>, and the
/// recommendation (<c>recommendedPoolSize</c> is null when nothing was measured). Latencies are in milliseconds,
/// throughput in transactions per second. The server appears as <c>user@host:port/database</c>, never with a password.
/// </summary>
internal static class SizeJson
{
    /// <summary>Writes <paramref name="result"/> to <paramref name="stream"/>.</summary>
    /// <param name="result">The report.</param>
    /// <param name="stream">Where to write (left open).</param>
    public static void Write(SizeResult result, Stream stream)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("workload", result.Workload);
        json.WriteString("server", result.Server);
        json.WriteString("resetMode", result.ResetMode.ToString());
        json.WriteNumber("clients", result.Clients);
        json.WriteNumber("warmupSeconds", result.Warmup.TotalSeconds);
        json.WriteNumber("durationSeconds", result.Duration.TotalSeconds);
        json.WriteNumber("tolerancePercent", result.TolerancePercent);
        json.WriteBoolean("canceled", result.Canceled);
        json.WriteStartArray("results");
        foreach (SizeMeasurement m in result.Measurements)
        {
            json.WriteStartObject();
            json.WriteNumber("poolSize", m.PoolSize);
            json.WriteNumber("transactions", m.Transactions);
            json.WriteNumber("errors", m.Errors);
            json.WriteNumber("seconds", m.Seconds);
            json.WriteNumber("throughput", Math.Round(m.Throughput, 2));
            json.WriteNumber("p50Ms", Math.Round(m.P50Milliseconds, 3));
            json.WriteNumber("p99Ms", Math.Round(m.P99Milliseconds, 3));
            json.WriteNumber("maxMs", Math.Round(m.MaxMilliseconds, 3));
            json.WriteNumber("connectionsOpened", m.ConnectionsOpened);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        if (result.Recommendation is { } pick)
        {
            json.WriteNumber("bestPoolSize", pick.BestPoolSize);
            json.WriteNumber("bestThroughput", Math.Round(pick.BestThroughput, 2));
            json.WriteNumber("recommendedPoolSize", pick.RecommendedPoolSize);
            json.WriteNumber("recommendedThroughput", Math.Round(pick.RecommendedThroughput, 2));
        }
        else
        {
            json.WriteNull("bestPoolSize");
            json.WriteNull("bestThroughput");
            json.WriteNull("recommendedPoolSize");
            json.WriteNull("recommendedThroughput");
        }

        json.WriteEndObject();
        json.Flush();
    }
}
