using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using PoolKit.Npgsql;
using PoolKit.Testing;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>
/// The <c>bulk</c> part: loads the same rows into a fresh table several ways, once each, and prints rows/s, ratios and
/// bytes allocated per row. Three hand-written anchors, each the best a team would write for its job, against the
/// runner in each mode: the seed's autocommitted INSERT per row on Npgsql's pool (anchor of the 1-item units), a
/// chunked multi-row INSERT of 1,000 rows per statement on Npgsql's pool (anchor of the 1,000-item units), and one
/// binary COPY stream (anchor of the COPY units).
/// </summary>
/// <remarks>
/// Every PoolKit row runs on an <see cref="NpgsqlConnectionPool"/> of MaxSize = parallelism with
/// <see cref="NpgsqlResetMode.RollbackOnly"/> (each unit ends its transaction, so a return costs no round trip). Each
/// row is warmed up on a small load first, then all rows are measured in <c>--rounds</c> (3) interleaved rounds and the
/// median counts; the table's row count is checked after every measured load. The 1-item rows load
/// <c>--row-loads</c> rows (default 10,000), the others <c>--rows</c> (default 200,000), so that one run stays under
/// about three minutes on a shared 2-core machine. Allocation is the process's allocated bytes
/// (every thread) during the measured load, divided by its rows; CPU per row is this process's CPU time (client) and,
/// for a server the benchmark started, its postmaster's and children's CPU time (server), each divided by the rows.
/// The ratio column also gives the median of each round's ratio to the same round's anchor.
/// </remarks>
public static class BulkLoadBenchmark
{
    private const string Seed = "seed: Npgsql pool, autocommit INSERT per row";
    private const string PerItem = "runner SQL mode, 1 item per transaction";
    private const string PerItemNoSettle = "runner SQL mode, 1 item per transaction, settling off";
    private const string InsertOne = "runner insert mode, 1 item per transaction";
    private const string Chunked = "hand-written: Npgsql pool, multi-row INSERT of 1,000 rows";
    private const string Batch1000 = "runner SQL mode, 1,000 items per transaction (NpgsqlBatch)";
    private const string Insert1000 = "runner insert mode, 1,000 items per transaction (unnest)";
    private const string SingleCopy = "hand-written: one binary COPY stream (1 connection)";
    private const string InsertCopy = "runner insert mode, 10,000 items per transaction (COPY)";
    private const string CopyMode = "runner COPY mode, 10,000 items per transaction";

    /// <summary>Parses the options, provides a server, runs the loads and prints the table.</summary>
    /// <param name="args">The arguments after <c>bulk</c>.</param>
    /// <returns>The process exit code.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        string? connection = null;
        int rows = 200_000;
        int rowLoads = 10_000;
        int parallelism = 8;
        int roundCount = 3;
        string? only = null;
        string? markdown = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--connection": connection = Value(); break;
                case "--rows": rows = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--row-loads": rowLoads = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--parallel": parallelism = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--rounds": roundCount = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--only": only = Value(); break;
                case "--markdown": markdown = Value(); break;
                default:
                    Console.Error.WriteLine($"unknown bulk option '{args[i]}'");
                    return 1;
            }
        }

        PostgresTestServer? server = null;
        try
        {
            if (connection is null)
            {
                server = await PostgresTestServer.StartAsync().ConfigureAwait(false);
                connection = server.ConnectionString;
                Console.WriteLine($"server: {server}");
            }

            var loads = new List<(string Name, int Rows, Func<BulkLoad> Create)>
            {
                (Seed, rowLoads, () => new SeedLoad(connection, parallelism)),
                (PerItem, rowLoads, () => new RunnerLoad(connection, parallelism, 1, RunnerMode.Sql)),
                (PerItemNoSettle, rowLoads, () => new RunnerLoad(connection, parallelism, 1, RunnerMode.Sql, settle: false)),
                (InsertOne, rowLoads, () => new RunnerLoad(connection, parallelism, 1, RunnerMode.Insert)),
                (Chunked, rows, () => new ChunkedInsertLoad(connection, parallelism, 1_000)),
                (Batch1000, rows, () => new RunnerLoad(connection, parallelism, 1_000, RunnerMode.Sql)),
                (Insert1000, rows, () => new RunnerLoad(connection, parallelism, 1_000, RunnerMode.Insert)),
                (SingleCopy, rows, () => new SingleCopyLoad(connection)),
                (InsertCopy, rows, () => new RunnerLoad(connection, parallelism, 10_000, RunnerMode.Insert)),
                (CopyMode, rows, () => new RunnerLoad(connection, parallelism, 10_000, RunnerMode.Copy)),
            };

            // Every load is created and warmed first (pools open, as in a running application), then measured in
            // interleaved rounds, so a change of load on a shared machine hits every row alike; the median round counts.
            var active = new List<(string Name, int Rows, BulkLoad Load)>();
            foreach ((string name, int count, Func<BulkLoad> create) in loads)
            {
                if (only is null || name.Contains(only, StringComparison.OrdinalIgnoreCase) || name.StartsWith("seed", StringComparison.Ordinal) || name.StartsWith("hand-written", StringComparison.Ordinal))
                {
                    BulkLoad load = create();
                    active.Add((name, count, load));
                    _ = await MeasureAsync(connection, name, load, Math.Min(5_000, count)).ConfigureAwait(false);
                }
            }

            int? postmaster = server?.PostmasterProcessId;
            var rounds = active.ToDictionary(static a => a.Name, static _ => new List<(double RowsPerSecond, TimeSpan Elapsed, double BytesPerRow, double ClientCpu, double ServerCpu)>());
            try
            {
                for (int round = 1; round <= roundCount; round++)
                {
                    foreach ((string name, int count, BulkLoad load) in active)
                    {
                        long allocated = GC.GetTotalAllocatedBytes(precise: true);
                        TimeSpan clientCpu = Process.GetCurrentProcess().TotalProcessorTime;
                        TimeSpan serverCpu = ServerCpu(postmaster);
                        TimeSpan elapsed = await MeasureAsync(connection, name, load, count).ConfigureAwait(false);
                        double perRow = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)count;
                        double clientUs = (Process.GetCurrentProcess().TotalProcessorTime - clientCpu).TotalMicroseconds / count;
                        double serverUs = (ServerCpu(postmaster) - serverCpu).TotalMicroseconds / count;
                        rounds[name].Add((count / elapsed.TotalSeconds, elapsed, perRow, clientUs, serverUs));
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: {name}: {elapsed.TotalSeconds:0.000} s, {count / elapsed.TotalSeconds:N0} rows/s, {perRow:N0} B/row, CPU per row {clientUs:0.0} µs client, {serverUs:0.0} µs server"));
                    }
                }
            }
            finally
            {
                foreach ((_, _, BulkLoad load) in active)
                {
                    await load.DisposeAsync().ConfigureAwait(false);
                }
            }

            var results = active.Select(a =>
            {
                var sorted = rounds[a.Name].OrderBy(static r => r.RowsPerSecond).ToList();
                (double rate, TimeSpan elapsed, double perRow, double clientUs, double serverUs) = sorted[sorted.Count / 2];
                return new Measured(a.Name, a.Rows, rate, elapsed, perRow, sorted[0].RowsPerSecond, sorted[^1].RowsPerSecond, Median(rounds[a.Name].Select(static r => r.ClientCpu)), Median(rounds[a.Name].Select(static r => r.ServerCpu)));
            }).ToList();

            // The median of each round's ratio to the same round's anchor: a change of load on a shared machine between
            // rounds moves a row and its anchor alike.
            double? RoundRatio(string name, string anchor) => rounds.TryGetValue(anchor, out var a)
                ? Median(rounds[name].Zip(a, static (r, x) => r.RowsPerSecond / x.RowsPerSecond))
                : null;

            string table = Format(results, parallelism, RoundRatio, postmaster is not null);
            Console.WriteLine();
            Console.WriteLine(table);
            if (markdown is not null)
            {
                await File.WriteAllTextAsync(markdown, table).ConfigureAwait(false);
            }

            return 0;
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
    }

    /// <summary>The CPU time of the server's postmaster and its children (backends, background processes), from /proc; zero when unknown.</summary>
    private static TimeSpan ServerCpu(int? postmaster)
    {
        if (postmaster is not { } root || !OperatingSystem.IsLinux())
        {
            return TimeSpan.Zero;
        }

        long ticks = 0;
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                string stat = File.ReadAllText(Path.Combine(directory, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

                // After the command: state, ppid, ... utime is field 14 and stime 15 of the whole line (11 and 12 here).
                int pid = int.Parse(Path.GetFileName(directory), CultureInfo.InvariantCulture);
                if (pid == root || int.Parse(fields[1], CultureInfo.InvariantCulture) == root)
                {
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                // Not a process, or it ended while being read.
            }
        }

        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux.
    }

    private static async Task<TimeSpan> MeasureAsync(string connectionString, string name, BulkLoad load, int rows)
    {
        string table = "bulk_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync(connectionString, $"CREATE TABLE {table} (id bigint PRIMARY KEY, payload int NOT NULL, label text NOT NULL)").ConfigureAwait(false);
        try
        {
            long started = Stopwatch.GetTimestamp();
            await load.LoadAsync(table, rows).ConfigureAwait(false);
            TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
            long count = await CountAsync(connectionString, table).ConfigureAwait(false);
            return count == rows ? elapsed : throw new InvalidOperationException($"{name}: {count} rows in the table, expected {rows}");
        }
        finally
        {
            await ExecuteAsync(connectionString, $"DROP TABLE {table}").ConfigureAwait(false);
        }
    }

    /// <summary>One way of loading rows, holding its pool or connection across the warm-up and the measured load.</summary>
    private abstract class BulkLoad : IAsyncDisposable
    {
        public abstract Task LoadAsync(string table, int rows);

        public abstract ValueTask DisposeAsync();
    }

    /// <summary>The seed: each row opens a pooled connection, runs one autocommitted INSERT and closes, 8 at a time.</summary>
    private sealed class SeedLoad(string connectionString, int parallelism) : BulkLoad
    {
        private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(connectionString) { Pooling = true, MaxPoolSize = parallelism, ApplicationName = "poolkit-bulk-seed" }.ConnectionString);

        public override Task LoadAsync(string table, int rows)
        {
            string sql = Insert(table);
            return Parallel.ForEachAsync(Enumerable.Range(0, rows), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (i, ct) =>
            {
                NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    using var command = new NpgsqlCommand(sql, connection);
                    Bind(command.Parameters, i);
                    _ = await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }
            });
        }

        public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
    }

    /// <summary>
    /// What a team writes by hand for bulk rows: chunks of 1,000, each one autocommitted
    /// <c>INSERT ... VALUES ($1, $2, $3), ($4, $5, $6), ...</c> on a pooled connection, 8 chunks at a time.
    /// </summary>
    private sealed class ChunkedInsertLoad(string connectionString, int parallelism, int chunk) : BulkLoad
    {
        private readonly NpgsqlDataSource _dataSource = NpgsqlDataSource.Create(
            new NpgsqlConnectionStringBuilder(connectionString) { Pooling = true, MaxPoolSize = parallelism, ApplicationName = "poolkit-bulk-chunked" }.ConnectionString);

        public override Task LoadAsync(string table, int rows)
        {
            var sql = new StringBuilder($"INSERT INTO {table} (id, payload, label) VALUES ");
            for (int r = 0; r < chunk; r++)
            {
                sql.Append(CultureInfo.InvariantCulture, $"{(r == 0 ? string.Empty : ", ")}(${(3 * r) + 1}, ${(3 * r) + 2}, ${(3 * r) + 3})");
            }

            string full = sql.ToString();
            return Parallel.ForEachAsync(Enumerable.Range(0, (rows + chunk - 1) / chunk), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, async (c, ct) =>
            {
                int first = c * chunk;
                int count = Math.Min(chunk, rows - first);
                NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
                await using (connection.ConfigureAwait(false))
                {
                    using var command = new NpgsqlCommand(count == chunk ? full : full[..full.IndexOf($"(${(3 * count) + 1},", StringComparison.Ordinal)].TrimEnd(',', ' '), connection);
                    for (int i = first; i < first + count; i++)
                    {
                        Bind(command.Parameters, i);
                    }

                    _ = await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                }
            });
        }

        public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
    }

    private enum RunnerMode
    {
        Sql,
        Insert,
        Copy,
    }

    /// <summary>ParallelBatchRunner on an NpgsqlConnectionPool of MaxSize = parallelism.</summary>
    private sealed class RunnerLoad : BulkLoad
    {
        private readonly NpgsqlConnectionPool _pool;
        private readonly ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> _runner;
        private readonly RunnerMode _mode;

        public RunnerLoad(string connectionString, int parallelism, int itemsPerTransaction, RunnerMode mode, bool settle = true)
        {
            _pool = SelectOneScenarios.CreatePoolKit(connectionString, parallelism, NpgsqlResetMode.RollbackOnly, "poolkit-bulk-runner");
            NpgsqlTransactionHandler handler = settle ? NpgsqlTransactionHandler.Default : new NpgsqlTransactionHandler(System.Data.IsolationLevel.Unspecified, TimeSpan.Zero);
            _runner = _pool.CreateBatchRunner(handler, new BatchRunnerOptions { ItemsPerTransaction = itemsPerTransaction });
            _mode = mode;
        }

        public override async Task LoadAsync(string table, int rows)
        {
            IEnumerable<int> items = Enumerable.Range(0, rows);
            BatchResult result = _mode switch
            {
                RunnerMode.Copy => await _runner.RunCopyAsync(items, Copy(table), WriteRowAsync).ConfigureAwait(false),
                RunnerMode.Insert => await _runner.RunInsertAsync(items, Rows(table)).ConfigureAwait(false),
                _ => await _runner.RunAsync(items, Insert(table), Bind).ConfigureAwait(false),
            };
            if (!result.Succeeded)
            {
                throw new InvalidOperationException($"the batch did not succeed: {result}");
            }
        }

        public override ValueTask DisposeAsync() => _pool.DisposeAsync();
    }

    /// <summary>The physical reference: one open connection, one COPY of every row, no explicit transaction.</summary>
    private sealed class SingleCopyLoad(string connectionString) : BulkLoad
    {
        private readonly NpgsqlConnection _connection = new(
            new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "poolkit-bulk-copy" }.ConnectionString);

        public override async Task LoadAsync(string table, int rows)
        {
            if (_connection.State != System.Data.ConnectionState.Open)
            {
                await _connection.OpenAsync().ConfigureAwait(false);
            }

            NpgsqlBinaryImporter importer = await _connection.BeginBinaryImportAsync(Copy(table)).ConfigureAwait(false);
            await using (importer.ConfigureAwait(false))
            {
                for (int i = 0; i < rows; i++)
                {
                    await importer.StartRowAsync().ConfigureAwait(false);
                    await WriteRowAsync(importer, i, CancellationToken.None).ConfigureAwait(false);
                }

                _ = await importer.CompleteAsync().ConfigureAwait(false);
            }
        }

        public override ValueTask DisposeAsync() => _connection.DisposeAsync();
    }

    private static string Insert(string table) => $"INSERT INTO {table} (id, payload, label) VALUES ($1, $2, $3)";

    private static NpgsqlRowInsert<int> Rows(string table) => new NpgsqlRowInsert<int>(table)
        .Column("id", static i => (long)i)
        .Column("payload", static i => i % 1_000)
        .Column("label", static _ => "item");

    private static string Copy(string table) => $"COPY {table} (id, payload, label) FROM STDIN (FORMAT BINARY)";

    private static void Bind(NpgsqlParameterCollection parameters, int i)
    {
        parameters.Add(new NpgsqlParameter<long> { TypedValue = i });
        parameters.Add(new NpgsqlParameter<int> { TypedValue = i % 1_000 });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = "item" });
    }

    private static async ValueTask WriteRowAsync(NpgsqlBinaryImporter importer, int i, CancellationToken cancellationToken)
    {
        await importer.WriteAsync((long)i, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
        await importer.WriteAsync(i % 1_000, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
        await importer.WriteAsync("item", NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "poolkit-bulk-admin" }.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            using var command = new NpgsqlCommand(sql, connection);
            _ = await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    private static async Task<long> CountAsync(string connectionString, string table)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "poolkit-bulk-admin" }.ConnectionString);
        await using (connection.ConfigureAwait(false))
        {
            await connection.OpenAsync().ConfigureAwait(false);
            using var command = new NpgsqlCommand($"SELECT count(DISTINCT id) FROM {table}", connection);
            return (long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
        }
    }

    private static string Format(List<Measured> results, int parallelism, Func<string, string, double?> roundRatio, bool serverCpu)
    {
        Measured? Find(string name) => results.Find(r => r.Name == name);
        string Versus(Measured row, string anchor, string target)
        {
            Measured? a = Find(anchor);
            return a is null ? "(anchor not run)" : string.Create(CultureInfo.InvariantCulture, $"{row.RowsPerSecond / a.RowsPerSecond:0.00}x {ShortName(anchor)} (per round: {roundRatio(row.Name, anchor):0.00}x){target}");
        }

        string Ratio(Measured row) => row.Name switch
        {
            PerItem => Versus(row, Seed, " (target >= 1.2)"),
            PerItemNoSettle => Versus(row, Seed, " (no record: a lost connection leaves the unit unknown)"),
            InsertOne => Versus(row, Seed, string.Empty),
            Batch1000 => Versus(row, Chunked, string.Empty),
            Insert1000 => Versus(row, Chunked, " (target >= 1.0)"),
            InsertCopy => Versus(row, SingleCopy, " (target >= 0.9)"),
            CopyMode => Versus(row, SingleCopy, " (target >= 0.9)"),
            _ => "anchor",
        };

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"rows (bigint key, int, text) into a fresh table, {parallelism} parallel, pools warm (a 5,000-row warm-up each); median of interleaved rounds (slowest–fastest shown); {Environment.ProcessorCount} cores\n\n");
        text.Append("| load | rows | seconds | rows/s (median) | rows/s (range) | ratio | allocated per row | CPU per row, client / server |\n| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n");
        foreach (Measured row in results)
        {
            string server = serverCpu ? string.Create(CultureInfo.InvariantCulture, $"{row.ServerCpu:0.0} µs") : "n/a";
            text.Append(CultureInfo.InvariantCulture, $"| {row.Name} | {row.Rows:N0} | {row.Elapsed.TotalSeconds:0.000} | {row.RowsPerSecond:N0} | {row.Slowest:N0}–{row.Fastest:N0} | {Ratio(row)} | {row.BytesPerRow:N0} B | {row.ClientCpu:0.0} µs / {server} |\n");
        }

        return text.ToString();
    }

    private static string ShortName(string anchor) => anchor switch
    {
        Seed => "seed",
        Chunked => "chunked INSERT",
        _ => "one COPY stream",
    };

    private sealed record Measured(string Name, int Rows, double RowsPerSecond, TimeSpan Elapsed, double BytesPerRow, double Slowest, double Fastest, double ClientCpu, double ServerCpu);
}
