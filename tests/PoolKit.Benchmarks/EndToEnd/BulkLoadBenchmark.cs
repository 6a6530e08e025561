using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using PoolKit.Npgsql;
using PoolKit.Testing;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>
/// The <c>bulk</c> part: loads the same rows into a fresh table several ways, once each, and prints rows/s with
/// ratios. The seed's pattern (one INSERT per operation, each in its own transaction, on Npgsql's built-in pool,
/// 8 in parallel) against <see cref="ParallelBatchRunner{TResource, TTransaction}"/> per item, with 1,000 items per
/// transaction, in COPY mode, and a single binary COPY stream as the physical reference.
/// </summary>
/// <remarks>
/// Every PoolKit row runs on an <see cref="NpgsqlConnectionPool"/> of MaxSize = parallelism with
/// <see cref="NpgsqlResetMode.RollbackOnly"/> (each unit ends its transaction, so a return costs no round trip),
/// except the row named "reset Discard", which shows the price of the default reset (one <c>DISCARD ALL</c> round trip
/// per return; Npgsql's pool pipelines its own reset with the next command instead). Each row is warmed up on a
/// small load first, and the table's row count is checked after every measured load.
/// </remarks>
public static class BulkLoadBenchmark
{
    private const string Seed = "seed: Npgsql pool, INSERT + COMMIT per item";
    private const string PerItem = "runner per item (1 item per transaction)";
    private const string PerItemDiscard = "runner per item, reset Discard";
    private const string Chunked = "runner, 1,000 items per transaction (one NpgsqlBatch)";
    private const string CopyMode = "runner COPY mode";
    private const string SingleCopy = "single binary COPY stream (1 connection)";

    /// <summary>Parses the options, provides a server, runs the loads and prints the table.</summary>
    /// <param name="args">The arguments after <c>bulk</c>.</param>
    /// <returns>The process exit code.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        string? connection = null;
        int rows = 100_000;
        int parallelism = 8;
        int[] copyItems = [1_000, 10_000];
        string? only = null;
        string? markdown = null;
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--connection": connection = Value(); break;
                case "--rows": rows = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--parallel": parallelism = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--copy-items": copyItems = Value().Split(',').Select(static v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray(); break;
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

            var loads = new List<(string Name, Func<BulkLoad> Create)>
            {
                (Seed, () => new SeedLoad(connection, parallelism)),
                (PerItem, () => new RunnerLoad(connection, parallelism, 1, copy: false, NpgsqlResetMode.RollbackOnly)),
                (PerItemDiscard, () => new RunnerLoad(connection, parallelism, 1, copy: false, NpgsqlResetMode.Discard)),
                (Chunked, () => new RunnerLoad(connection, parallelism, 1_000, copy: false, NpgsqlResetMode.RollbackOnly)),
            };
            foreach (int items in copyItems)
            {
                loads.Add((string.Create(CultureInfo.InvariantCulture, $"{CopyMode}, {items:N0} rows per transaction"), () => new RunnerLoad(connection, parallelism, items, copy: true, NpgsqlResetMode.RollbackOnly)));
            }

            loads.Add((SingleCopy, () => new SingleCopyLoad(connection)));

            var results = new List<(string Name, double RowsPerSecond, TimeSpan Elapsed)>();
            foreach ((string name, Func<BulkLoad> create) in loads)
            {
                if (only is not null && !name.Contains(only, StringComparison.OrdinalIgnoreCase) && name != SingleCopy)
                {
                    continue;
                }

                // Pools and connections are created and warmed before the measured load, as in a running application.
                BulkLoad load = create();
                await using (load.ConfigureAwait(false))
                {
                    await MeasureAsync(connection, name, load, Math.Min(5_000, rows)).ConfigureAwait(false);
                    TimeSpan elapsed = await MeasureAsync(connection, name, load, rows).ConfigureAwait(false);
                    results.Add((name, rows / elapsed.TotalSeconds, elapsed));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {elapsed.TotalSeconds:0.000} s, {rows / elapsed.TotalSeconds:N0} rows/s"));
                }
            }

            string table = Format(results, rows, parallelism);
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

    /// <summary>The seed: each item opens a pooled connection, begins, inserts, commits and closes, 8 at a time.</summary>
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
                    NpgsqlTransaction transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
                    await using (transaction.ConfigureAwait(false))
                    {
                        using var command = new NpgsqlCommand(sql, connection, transaction);
                        Bind(command.Parameters, i);
                        _ = await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                        await transaction.CommitAsync(ct).ConfigureAwait(false);
                    }
                }
            });
        }

        public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
    }

    /// <summary>ParallelBatchRunner on an NpgsqlConnectionPool of MaxSize = parallelism.</summary>
    private sealed class RunnerLoad : BulkLoad
    {
        private readonly NpgsqlConnectionPool _pool;
        private readonly ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> _runner;
        private readonly bool _copy;

        public RunnerLoad(string connectionString, int parallelism, int itemsPerTransaction, bool copy, NpgsqlResetMode resetMode)
        {
            _pool = SelectOneScenarios.CreatePoolKit(connectionString, parallelism, resetMode, "poolkit-bulk-runner");
            _runner = _pool.CreateBatchRunner(new BatchRunnerOptions { ItemsPerTransaction = itemsPerTransaction });
            _copy = copy;
        }

        public override async Task LoadAsync(string table, int rows)
        {
            IEnumerable<int> items = Enumerable.Range(0, rows);
            BatchResult result = _copy
                ? await _runner.RunCopyAsync(items, Copy(table), WriteRowAsync).ConfigureAwait(false)
                : await _runner.RunAsync(items, Insert(table), Bind).ConfigureAwait(false);
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

    private static string Format(List<(string Name, double RowsPerSecond, TimeSpan Elapsed)> results, int rows, int parallelism)
    {
        double Rate(string name) => results.FirstOrDefault(r => r.Name == name).RowsPerSecond;
        string Ratio(string name) => name switch
        {
            PerItem => string.Create(CultureInfo.InvariantCulture, $"{Rate(name) / Rate(Seed):0.00}x seed (target >= 1)"),
            PerItemDiscard => string.Create(CultureInfo.InvariantCulture, $"{Rate(name) / Rate(Seed):0.00}x seed (information: the default reset's round trip)"),
            Chunked => string.Create(CultureInfo.InvariantCulture, $"{Rate(name) / Rate(Seed):0.0}x seed (target >= 10)"),
            _ when name.StartsWith(CopyMode, StringComparison.Ordinal) => string.Create(CultureInfo.InvariantCulture, $"{Rate(name) / Rate(SingleCopy):0.00}x single COPY (target >= 0.8); {Rate(name) / Rate(Seed):0}x seed"),
            SingleCopy => string.Create(CultureInfo.InvariantCulture, $"{Rate(name) / Rate(Seed):0}x seed"),
            _ => "anchor",
        };

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{rows:N0} rows (bigint key, int, text), {parallelism} parallel, pools warm; one run each after a 5,000-row warm-up on the same pool; {Environment.ProcessorCount} cores\n\n");
        text.Append("| load | seconds | rows/s | ratio |\n| --- | ---: | ---: | --- |\n");
        foreach ((string name, double rate, TimeSpan elapsed) in results)
        {
            text.Append(CultureInfo.InvariantCulture, $"| {name} | {elapsed.TotalSeconds:0.000} | {rate:N0} | {Ratio(name)} |\n");
        }

        return text.ToString();
    }
}
