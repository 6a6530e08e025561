using System.Diagnostics;
using System.Globalization;
using PoolKit.Testing;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>
/// The <c>e2e</c> part: every scenario against the same PostgreSQL, in one process, at each concurrency level.
/// Each (scenario, concurrency) warms up once, then runs <see cref="E2eOptions.Repeats"/> times for
/// <see cref="E2eOptions.Duration"/>; the repeats of the scenarios are interleaved so that drift on a shared
/// machine hits every row alike. The median run is reported.
/// </summary>
/// <remarks>
/// Allocations are process-wide (<see cref="GC.GetTotalAllocatedBytes(bool)"/>) divided by the operations, so they
/// include Npgsql's and the runtime's own work, which is the same for every .NET row.
/// </remarks>
public static class ScenarioRunner
{
    /// <summary>Parses the options, provides a server, runs everything and prints the table.</summary>
    /// <param name="args">The arguments after <c>e2e</c>.</param>
    /// <returns>The process exit code.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        E2eOptions options;
        try
        {
            options = E2eOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 1;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        PostgresTestServer? server = null;
        try
        {
            string connectionString;
            if (options.Connection is { } given)
            {
                connectionString = given;
                Console.WriteLine("server: the --connection given");
            }
            else
            {
                server = await PostgresTestServer.StartAsync(cancellationToken: cancel.Token).ConfigureAwait(false);
                connectionString = server.ConnectionString;
                Console.WriteLine($"server: {server}");
            }

            IReadOnlyList<ScenarioResult> results = await MeasureAllAsync(connectionString, options, cancel.Token).ConfigureAwait(false);
            string table = ResultTable.ToMarkdown(results);
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"SELECT 1 per operation; {options.Repeats} x {options.Duration.TotalSeconds:0} s after {options.Warmup.TotalSeconds:0} s warm-up; median; {Environment.ProcessorCount} cores"));
            Console.WriteLine(table);
            if (options.MarkdownPath is { } md)
            {
                await File.WriteAllTextAsync(md, table, cancel.Token).ConfigureAwait(false);
            }

            if (options.CsvPath is { } csv)
            {
                await File.WriteAllTextAsync(csv, ResultTable.ToCsv(results), cancel.Token).ConfigureAwait(false);
            }

            return 0;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("cancelled");
            return 130;
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<IReadOnlyList<ScenarioResult>> MeasureAllAsync(string connectionString, E2eOptions options, CancellationToken cancellationToken)
    {
        var results = new List<ScenarioResult>();
        PgBench? pgbench = null;
        if (!options.NoPgbench)
        {
            pgbench = PgBench.TryCreate(connectionString, options.PgbenchWorkload, out string? whyNot);
            if (whyNot is not null)
            {
                Console.WriteLine(whyNot);
            }
        }

        IReadOnlyList<Scenario> scenarios = SelectOneScenarios.Create(connectionString, options.MaxPoolSize);
        await using SessionSampler sessions = await SessionSampler.OpenAsync(connectionString, cancellationToken).ConfigureAwait(false);
        try
        {
            if (pgbench is not null)
            {
                await pgbench.PrepareAsync(cancellationToken).ConfigureAwait(false);
            }

            foreach (int concurrency in options.Concurrency)
            {
                var runs = scenarios.ToDictionary(static s => s, static _ => new List<(double OpsPerSecond, double BytesPerOp)>());
                foreach (Scenario scenario in scenarios)
                {
                    Console.WriteLine($"warm-up  c={concurrency,-3} {scenario.Name}");
                    _ = await RunForAsync(scenario, concurrency, options.Warmup, cancellationToken).ConfigureAwait(false);
                    await SampleAsync(sessions, scenario, cancellationToken).ConfigureAwait(false);
                }

                var pgbenchRuns = new List<double>();
                for (int repeat = 0; repeat < options.Repeats; repeat++)
                {
                    foreach (Scenario scenario in scenarios)
                    {
                        (double ops, double bytes) run = await RunForAsync(scenario, concurrency, options.Duration, cancellationToken).ConfigureAwait(false);
                        runs[scenario].Add(run);
                        await SampleAsync(sessions, scenario, cancellationToken).ConfigureAwait(false);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {repeat + 1}/{options.Repeats} c={concurrency,-3} {scenario.Name}: {run.ops:N0} ops/s, {run.bytes:N0} B/op"));
                    }

                    if (pgbench is not null)
                    {
                        double tps = await pgbench.MeasureAsync(concurrency, options.Duration, cancellationToken).ConfigureAwait(false);
                        pgbenchRuns.Add(tps);
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"run {repeat + 1}/{options.Repeats} c={concurrency,-3} {pgbench.Name}: {tps:N0} tps"));
                    }
                }

                if (pgbench is not null)
                {
                    results.Add(new ScenarioResult(pgbench.Name, concurrency, Median(pgbenchRuns), pgbenchRuns.Min(), pgbenchRuns.Max(), null, []));
                }

                foreach (Scenario scenario in scenarios)
                {
                    List<(double OpsPerSecond, double BytesPerOp)> r = runs[scenario];
                    results.Add(new ScenarioResult(
                        scenario.Name,
                        concurrency,
                        Median(r.Select(static x => x.OpsPerSecond)),
                        r.Min(static x => x.OpsPerSecond),
                        r.Max(static x => x.OpsPerSecond),
                        Median(r.Select(static x => x.BytesPerOp)),
                        scenario.ComparedWith,
                        scenario.ApplicationName is { } app ? sessions.SessionsSeen(app) : null));
                }
            }
        }
        finally
        {
            foreach (Scenario scenario in scenarios)
            {
                await scenario.DisposeAsync().ConfigureAwait(false);
            }

            pgbench?.Cleanup();
        }

        return results;
    }

    /// <summary>Runs <paramref name="concurrency"/> tasks issuing operations back to back for <paramref name="duration"/>.</summary>
    /// <returns>Operations per second and managed bytes allocated (process-wide) per operation.</returns>
    private static async Task<(double OpsPerSecond, double BytesPerOp)> RunForAsync(Scenario scenario, int concurrency, TimeSpan duration, CancellationToken cancellationToken)
    {
        var stop = new StopFlag();
        long operations = 0;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long started = Stopwatch.GetTimestamp();
        var workers = new Task[concurrency];
        for (int i = 0; i < concurrency; i++)
        {
            workers[i] = Task.Run(
                async () =>
                {
                    long mine = 0;
                    while (!stop.IsSet)
                    {
                        await scenario.ExecuteAsync(cancellationToken).ConfigureAwait(false);
                        mine++;
                    }

                    Interlocked.Add(ref operations, mine);
                },
                cancellationToken);
        }

        await Task.Delay(duration, cancellationToken).ConfigureAwait(false);
        stop.Set();
        await Task.WhenAll(workers).ConfigureAwait(false);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        long ops = Interlocked.Read(ref operations);
        return ops == 0 ? (0, 0) : (ops / elapsed.TotalSeconds, (double)allocated / ops);
    }

    private static Task SampleAsync(SessionSampler sessions, Scenario scenario, CancellationToken cancellationToken) =>
        scenario.ApplicationName is { } app ? sessions.SampleAsync(app, cancellationToken) : Task.CompletedTask;

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = values.Order().ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    /// <summary>A flag the workers poll; volatile so they see it promptly.</summary>
    private sealed class StopFlag
    {
        private volatile bool _set;

        public bool IsSet => _set;

        public void Set() => _set = true;
    }
}
