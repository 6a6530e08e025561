// Shared by PoolKit.Benchmarks (the `failover` part) and PoolKit.Npgsql.Tests (FailoverRaceTests), which compile it:
//   <Compile Include="../Shared/FailoverRace.cs" Link="Shared/FailoverRace.cs" />
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using Npgsql;
using PoolKit.Npgsql;
using PoolKit.Testing;

namespace PoolKit.Tests.Fixtures;

/// <summary>
/// Measures how soon writes resume after a failover through PoolKit and through Npgsql's own pool, side by side: one
/// round starts a fresh <see cref="PostgresStandbyPair"/>, runs the same writer loop on a <see cref="PoolKitDataSource"/>
/// and on a pooling <see cref="NpgsqlDataSource"/> (same multi-host connection string, <c>Target Session
/// Attributes=read-write</c>), stops the primary, waits the outage, promotes the standby and records, for each data
/// source, the time from the start of <c>pg_ctl promote</c> to its first successful INSERT; then removes the pair.
/// </summary>
/// <remarks>
/// Both data sources meet the same failover at the same moments, so a round compares them under the same machine load.
/// The writer loop is the code an application writes against <see cref="DbDataSource"/>: open, INSERT, dispose; on any
/// error, wait <see cref="FailoverRaceSettings.RetryDelay"/> and try again. Everything is bounded: a round that does
/// not see both first writes within <see cref="FailoverRaceSettings.RecoveryLimit"/> throws (its pair still removed).
/// </remarks>
internal static class FailoverRace
{
    /// <summary>The name of the PoolKit side in the samples.</summary>
    public const string PoolKit = "PoolKit";

    /// <summary>The name of the Npgsql side in the samples.</summary>
    public const string Npgsql = "Npgsql";

    /// <summary>Runs <paramref name="rounds"/> rounds, each on a pair of its own, and returns one sample per round.</summary>
    public static async Task<IReadOnlyList<FailoverSample>> RunAsync(int rounds, FailoverRaceSettings settings, Action<string>? log, CancellationToken cancellationToken)
    {
        List<FailoverSample> samples = [];
        for (int round = 1; round <= rounds; round++)
        {
            FailoverSample sample = await RunRoundAsync(settings, cancellationToken).ConfigureAwait(false);
            samples.Add(sample);
            log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"round {round}: {sample}"));
        }

        return samples;
    }

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>One failover on a fresh pair, both data sources writing.</summary>
    public static async Task<FailoverSample> RunRoundAsync(FailoverRaceSettings settings, CancellationToken cancellationToken)
    {
        PostgresStandbyPair pair = await PostgresStandbyPair.StartAsync(new PostgresTestServerOptions { UseDocker = false, EnvironmentVariable = null }, cancellationToken)
            .WaitAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        await using (pair.ConfigureAwait(false))
        {
            await ExecuteAsync(pair.Primary, "CREATE TABLE failover_writes (side text NOT NULL, at timestamptz NOT NULL DEFAULT now())", cancellationToken).ConfigureAwait(false);
            await pair.WaitForStandbyToCatchUpAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
            string connectionString = pair.GetConnectionString("poolkit-failover-race", TargetSessionAttributes.ReadWrite) + settings.ConnectionStringSuffix;

            NpgsqlDataSourceBuilder npgsqlBuilder = new(connectionString);
            npgsqlBuilder.ConnectionStringBuilder.Pooling = true;
            npgsqlBuilder.ConnectionStringBuilder.MaxPoolSize = settings.MaxPoolSize;
            NpgsqlDataSource npgsql = npgsqlBuilder.Build();
            await using (npgsql.ConfigureAwait(false))
            {
                PoolKitDataSource poolKit = PoolKitDataSource.Create(connectionString, settings.PoolOptions());
                await using (poolKit.ConfigureAwait(false))
                {
                    Side poolKitSide = new(PoolKit, poolKit, settings);
                    Side npgsqlSide = new(Npgsql, npgsql, settings);
                    Side[] sides = [poolKitSide, npgsqlSide];
                    using CancellationTokenSource stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    Task[] writers = [.. sides.SelectMany(s => s.Start(stop.Token))];
                    double promoteMs;
                    long promoteStart;
                    try
                    {
                        await WaitForAsync(() => sides.All(s => s.Writes >= settings.WarmUpWrites), TimeSpan.FromSeconds(20), "both sides write before the failover", cancellationToken).ConfigureAwait(false);
                        await pair.StopPrimaryAsync(settings.ImmediateStop, cancellationToken).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
                        await Task.Delay(settings.Outage, cancellationToken).ConfigureAwait(false);
                        promoteStart = Stopwatch.GetTimestamp();
                        foreach (Side side in sides)
                        {
                            side.Arm(promoteStart);
                        }

                        await pair.PromoteStandbyAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
                        promoteMs = Stopwatch.GetElapsedTime(promoteStart).TotalMilliseconds;
                        await WaitForAsync(() => sides.All(s => s.FirstWriteAfterPromote != 0), settings.RecoveryLimit, "both sides write on the new primary", cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        await stop.CancelAsync().ConfigureAwait(false);
                        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
                    }

                    return new FailoverSample(
                        promoteMs,
                        Stopwatch.GetElapsedTime(promoteStart, poolKitSide.FirstWriteAfterPromote).TotalMilliseconds,
                        Stopwatch.GetElapsedTime(promoteStart, npgsqlSide.FirstWriteAfterPromote).TotalMilliseconds,
                        poolKitSide.ErrorsAfterStop,
                        npgsqlSide.ErrorsAfterStop,
                        poolKitSide.LastError,
                        npgsqlSide.LastError);
                }
            }
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan limit, string what, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) > limit)
            {
                throw new TimeoutException($"Not within {limit.TotalSeconds:0.#} s: {what}.");
            }

            await Task.Delay(2, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task ExecuteAsync(PostgresTestServer server, string sql, CancellationToken cancellationToken)
    {
        NpgsqlConnection admin = new(server.GetConnectionString("poolkit-admin"));
        await using (admin.ConfigureAwait(false))
        {
            await admin.OpenAsync(cancellationToken).ConfigureAwait(false);
            NpgsqlCommand command = new(sql, admin);
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One data source and its writers.</summary>
    private sealed class Side(string name, DbDataSource dataSource, FailoverRaceSettings settings)
    {
        private long _writes;
        private long _errorsAfterStop;
        private long _armedAt = long.MaxValue;
        private long _firstWriteAfterPromote;
        private volatile Exception? _lastError;

        public long Writes => Interlocked.Read(ref _writes);

        public long ErrorsAfterStop => Interlocked.Read(ref _errorsAfterStop);

        public long FirstWriteAfterPromote => Interlocked.Read(ref _firstWriteAfterPromote);

        public string? LastError => _lastError is { } e ? $"{e.GetType().Name}: {e.Message}" : null;

        public void Arm(long promoteStart) => Volatile.Write(ref _armedAt, promoteStart);

        public IEnumerable<Task> Start(CancellationToken stop) =>
            Enumerable.Range(0, settings.Writers).Select(_ => Task.Run(() => WriteAsync(stop), CancellationToken.None));

        private async Task WriteAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    DbConnection connection = await dataSource.OpenConnectionAsync(stop).ConfigureAwait(false);
                    await using (connection.ConfigureAwait(false))
                    {
                        DbCommand insert = connection.CreateCommand();
                        await using (insert.ConfigureAwait(false))
                        {
                            insert.CommandText = "INSERT INTO failover_writes (side) VALUES ('" + name + "')";
                            await insert.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                        }
                    }

                    long now = Stopwatch.GetTimestamp();
                    Interlocked.Increment(ref _writes);
                    if (now > Volatile.Read(ref _armedAt))
                    {
                        Interlocked.CompareExchange(ref _firstWriteAfterPromote, now, 0);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // Counted and retried: the loop is an application's retry loop.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _lastError = ex;
                    Interlocked.Increment(ref _errorsAfterStop);
                    try
                    {
                        await Task.Delay(settings.RetryDelay, stop).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// <summary>The settings of a <see cref="FailoverRace"/>.</summary>
internal sealed class FailoverRaceSettings
{
    /// <summary>Gets or sets the writer tasks per data source. Default 3.</summary>
    public int Writers { get; set; } = 3;

    /// <summary>Gets or sets how long a writer waits after an error. Default 5 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Gets or sets the time between the primary's stop and the promote (the failure detection of a real failover). Default 1 s.</summary>
    public TimeSpan Outage { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets whether the primary is stopped immediately (like a crash) rather than with a fast shutdown. Default false.</summary>
    public bool ImmediateStop { get; set; }

    /// <summary>Gets or sets the writes each side makes before the failover. Default 30.</summary>
    public int WarmUpWrites { get; set; } = 30;

    /// <summary>Gets or sets how long a round waits for both first writes after the promote. Default 20 s.</summary>
    public TimeSpan RecoveryLimit { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Gets or sets the maximum size of both pools. Default 10.</summary>
    public int MaxPoolSize { get; set; } = 10;

    /// <summary>Gets or sets what is appended to both connection strings (for example <c>;Host Recheck Seconds=1</c>). Default none.</summary>
    public string ConnectionStringSuffix { get; set; } = "";

    /// <summary>Gets or sets PoolKit's options beyond MaxSize (which is <see cref="MaxPoolSize"/>). Default: the defaults.</summary>
    public Action<ConnectionPoolOptions>? ConfigurePool { get; set; }

    /// <summary>PoolKit's options.</summary>
    public ConnectionPoolOptions PoolOptions()
    {
        ConnectionPoolOptions options = new() { MaxSize = MaxPoolSize };
        ConfigurePool?.Invoke(options);
        return options;
    }
}

/// <summary>One failover: how long <c>pg_ctl promote</c> took, and each data source's first write after its start (ms).</summary>
internal sealed record FailoverSample(double PromoteMs, double PoolKitMs, double NpgsqlMs, long PoolKitErrors, long NpgsqlErrors, string? PoolKitLastError, string? NpgsqlLastError)
{
    /// <summary>Describes the sample.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"pg_ctl promote {PromoteMs:0} ms; first write after promote: PoolKit {PoolKitMs:0.0} ms, Npgsql {NpgsqlMs:0.0} ms; errors PoolKit {PoolKitErrors}, Npgsql {NpgsqlErrors}");
}
