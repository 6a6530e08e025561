using System.Globalization;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>
/// The <c>failover</c> part: <see cref="FailoverRace"/> for <c>--rounds</c> (5) rounds, each on a fresh local primary and
/// standby, and prints every sample and the medians of the time from promote to the first successful write through
/// PoolKit's data source and through Npgsql's pool (same writer loop, same connection string, same failover).
/// </summary>
public static class FailoverBenchmark
{
    /// <summary>Parses the options, runs the rounds and prints the samples and medians.</summary>
    /// <param name="args">The arguments after <c>failover</c>.</param>
    /// <returns>The process exit code.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        int rounds = 5;
        FailoverRaceSettings settings = new();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--rounds": rounds = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--writers": settings.Writers = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--retry-ms": settings.RetryDelay = TimeSpan.FromMilliseconds(double.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--outage-ms": settings.Outage = TimeSpan.FromMilliseconds(double.Parse(Value(), CultureInfo.InvariantCulture)); break;
                case "--immediate": settings.ImmediateStop = true; break;
                case "--suffix": settings.ConnectionStringSuffix = Value(); break;
                case "--backoff-max-ms":
                    TimeSpan max = TimeSpan.FromMilliseconds(double.Parse(Value(), CultureInfo.InvariantCulture));
                    settings.ConfigurePool = o => o.CreationBackoffMax = max;
                    break;
                default:
                    Console.Error.WriteLine($"unknown failover option '{args[i]}'");
                    return 1;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"failover: {rounds} rounds, {settings.Writers} writers per side retrying every {settings.RetryDelay.TotalMilliseconds:0} ms, outage {settings.Outage.TotalMilliseconds:0} ms before the promote, {(settings.ImmediateStop ? "immediate" : "fast")} stop, suffix '{settings.ConnectionStringSuffix}'"));
        using CancellationTokenSource limit = new(TimeSpan.FromMinutes(5));
        IReadOnlyList<FailoverSample> samples = await FailoverRace.RunAsync(rounds, settings, Console.WriteLine, limit.Token).ConfigureAwait(false);
        double poolKit = FailoverRace.Median(samples.Select(s => s.PoolKitMs));
        double npgsql = FailoverRace.Median(samples.Select(s => s.NpgsqlMs));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PoolKit samples (ms): {string.Join(", ", samples.Select(s => s.PoolKitMs.ToString("0.0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Npgsql  samples (ms): {string.Join(", ", samples.Select(s => s.NpgsqlMs.ToString("0.0", CultureInfo.InvariantCulture)))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median first write after promote: PoolKit {poolKit:0.0} ms, Npgsql {npgsql:0.0} ms, PoolKit - Npgsql {poolKit - npgsql:+0.0;-0.0} ms"));
        foreach (FailoverSample s in samples.Take(1))
        {
            Console.WriteLine($"last errors of round 1: PoolKit: {s.PoolKitLastError}; Npgsql: {s.NpgsqlLastError}");
        }

        return 0;
    }
}
