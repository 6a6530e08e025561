using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PoolKit.Cli.Infrastructure;
using PoolKit.Npgsql;
using Spectre.Console;

namespace PoolKit.Cli.Sizing;

/// <summary>
/// Runs <c>poolkit size</c> on a server: for each pool size, <see cref="SizeOptions.Clients"/> clients run the
/// workload in a loop through an <see cref="NpgsqlConnectionPool"/> of that MaxSize, first for the warm-up, then for
/// the measured window; throughput and latency percentiles come from the transactions that started and ended inside
/// the window. Latency runs from asking the pool for a connection to the commit, so waiting for a too-small pool
/// shows up in it, as it would in an application.
/// </summary>
internal sealed class SizeRunner(SizeOptions options, ISizingWorkload workload, IAnsiConsole console)
{
    /// <summary>Measures every size and recommends one.</summary>
    /// <param name="connectionString">The server's connection string.</param>
    /// <param name="serverDescription">The server as <c>user@host:port/database</c>, for the report.</param>
    /// <param name="cancellationToken">Stops the run; the sizes measured to the end are still reported.</param>
    /// <returns>The report.</returns>
    /// <exception cref="NpgsqlException">The workload failed with an error other than a serialization failure or deadlock.</exception>
    public async Task<SizeResult> RunAsync(string connectionString, string serverDescription, CancellationToken cancellationToken)
    {
        string runId = Guid.NewGuid().ToString("N")[..8];
        await using var admin = new NpgsqlConnection(ConnectionStrings.ForApplication(connectionString, $"poolkit size {runId} admin"));
        await admin.OpenAsync(cancellationToken);
        List<SizeMeasurement> measurements = [];
        try
        {
            // Inside the try: a set-up stopped half-way is cleaned up too.
            await workload.SetupAsync(admin, cancellationToken);
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    foreach (int size in options.Sizes)
                    {
                        if (cancellationToken.IsCancellationRequested)
                        {
                            break;
                        }

                        ProgressTask bar = context.AddTask(
                            string.Create(CultureInfo.InvariantCulture, $"pool size {size}, {options.Clients} clients"),
                            maxValue: (options.Warmup + options.Duration).TotalSeconds);
                        string app = string.Create(CultureInfo.InvariantCulture, $"poolkit size {runId} {size}");
                        SizeMeasurement? measurement = await MeasureAsync(
                            ConnectionStrings.ForApplication(connectionString, app), size, bar, cancellationToken);
                        bar.StopTask();
                        if (measurement is not null)
                        {
                            measurements.Add(measurement);
                        }
                    }
                });
        }
        finally
        {
            await workload.CleanupAsync(admin);
        }

        return new SizeResult
        {
            Workload = workload.Description,
            ResetMode = options.ResetMode,
            Server = serverDescription,
            Clients = options.Clients,
            Warmup = options.Warmup,
            Duration = options.Duration,
            TolerancePercent = options.TolerancePercent,
            Measurements = measurements,
            Recommendation = SizeRecommendation.Choose(measurements, options.TolerancePercent),
            Canceled = cancellationToken.IsCancellationRequested,
        };
    }

    /// <summary>Measures one size; null when stopped before its window ended.</summary>
    private async Task<SizeMeasurement?> MeasureAsync(string connectionString, int size, ProgressTask bar, CancellationToken cancellationToken)
    {
        var poolOptions = new ConnectionPoolOptions
        {
            Name = string.Create(CultureInfo.InvariantCulture, $"poolkit-size-{size}"),
            MaxSize = size,
            AcquireTimeout = TimeSpan.FromSeconds(60),
        };
        await using NpgsqlConnectionPool pool = NpgsqlConnectionPool.Create(connectionString, poolOptions, options.ResetMode);

        long start = Stopwatch.GetTimestamp();
        long windowStart = start + ToTicks(options.Warmup);
        long windowEnd = windowStart + ToTicks(options.Duration);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clients = new Task<ClientTally>[options.Clients];
        for (int i = 0; i < clients.Length; i++)
        {
            clients[i] = Task.Run(() => RunClientAsync(pool, windowStart, windowEnd, stop), CancellationToken.None);
        }

        Task all = Task.WhenAll(clients);
        while (!all.IsCompleted)
        {
            bar.Value = Math.Min(bar.MaxValue, Stopwatch.GetElapsedTime(start).TotalSeconds);
            await Task.WhenAny(all, Task.Delay(200, CancellationToken.None));
        }

        ClientTally[] tallies = await Task.WhenAll(clients);
        if (tallies.FirstOrDefault(static t => t.Fatal is not null) is { Fatal: { } fatal })
        {
            throw new CliException(string.Create(
                CultureInfo.InvariantCulture,
                $"The workload failed at pool size {size}: {ErrorMessages.Describe(fatal, server: null)}"), fatal);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        bar.Value = bar.MaxValue;
        List<double> latencies = tallies.SelectMany(static t => t.LatenciesMilliseconds).ToList();
        latencies.Sort();
        return new SizeMeasurement(
            size,
            latencies.Count,
            tallies.Sum(static t => t.Errors),
            options.Duration.TotalSeconds,
            LatencyPercentiles.Of(latencies, 50),
            LatencyPercentiles.Of(latencies, 99),
            latencies.Count > 0 ? latencies[^1] : 0,
            pool.GetStatistics().TotalCreated);
    }

    /// <summary>One client's loop: counts only transactions that start and end inside the window.</summary>
    private async Task<ClientTally> RunClientAsync(NpgsqlConnectionPool pool, long windowStart, long windowEnd, CancellationTokenSource stop)
    {
        var tally = new ClientTally();
        CancellationToken token = stop.Token;
        while (!token.IsCancellationRequested)
        {
            long began = Stopwatch.GetTimestamp();
            if (began >= windowEnd)
            {
                break;
            }

            try
            {
                await using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync(token);
                try
                {
                    await workload.ExecuteAsync(lease.Resource, token);
                }
                catch (Exception ex)
                {
                    lease.MarkBrokenIf(ex);
                    throw;
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected)
            {
                if (began >= windowStart)
                {
                    tally.Errors++;
                }

                continue;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or PoolExhaustedException or ResourceCreationException or IOException)
            {
                // Anything else (a syntax error in --sql, a lost server) would repeat forever: stop every client.
                tally.Fatal = ex;
                await stop.CancelAsync();
                break;
            }

            long ended = Stopwatch.GetTimestamp();
            if (began >= windowStart && ended <= windowEnd)
            {
                tally.LatenciesMilliseconds.Add(Stopwatch.GetElapsedTime(began, ended).TotalMilliseconds);
            }
        }

        return tally;
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    /// <summary>One client's counts; owned by that client until it returns it.</summary>
    private sealed class ClientTally
    {
        public List<double> LatenciesMilliseconds { get; } = [];

        public long Errors { get; set; }

        public Exception? Fatal { get; set; }
    }
}
