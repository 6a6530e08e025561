using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using PoolKit.Cli.Infrastructure;

namespace PoolKit.Cli.Demo;

/// <summary>
/// The best hand-written code for the same rows, as a team writes it without PoolKit: chunks of
/// <see cref="ChunkSize"/> rows, each one autocommitted multi-row <c>INSERT ... VALUES</c> on Npgsql's pool
/// (<see cref="DemoWay.HandChunked"/>), or one binary COPY stream of every row on one connection
/// (<see cref="DemoWay.HandCopy"/>). The anchors the runner's chunked ways are measured against.
/// </summary>
/// <remarks>
/// Neither keeps a ledger: a chunk whose connection broke after it was sent is counted unknown, and an error stops the
/// way (the COPY is all or nothing).
/// </remarks>
internal sealed class HandWrittenInserts(DemoWay way, int parallelism, int chunkSize) : IInsertStrategy
{
    /// <summary>Gets how many chunks run at once (and the pool's MaxSize).</summary>
    public int Parallelism { get; } = parallelism;

    /// <summary>Gets the rows per chunk.</summary>
    public int ChunkSize { get; } = chunkSize;

    /// <inheritdoc />
    public DemoWay Way { get; } = way is DemoWay.HandChunked or DemoWay.HandCopy
        ? way
        : throw new ArgumentOutOfRangeException(nameof(way), way, "Not a hand-written way.");

    /// <inheritdoc />
    public string Label => Way == DemoWay.HandCopy
        ? "hand-written: one COPY stream"
        : string.Create(CultureInfo.InvariantCulture, $"hand-written: {ChunkSize:N0}-row INSERTs");

    /// <inheritdoc />
    public Task<InsertOutcome> RunAsync(string connectionString, ScratchTable table, int rows, InsertProgress progress, CancellationToken cancellationToken) =>
        Way == DemoWay.HandCopy
            ? CopyAsync(connectionString, table, rows, progress, cancellationToken)
            : ChunkedAsync(connectionString, table, rows, progress, cancellationToken);

    private async Task<InsertOutcome> ChunkedAsync(string connectionString, ScratchTable table, int rows, InsertProgress progress, CancellationToken cancellationToken)
    {
        long nextChunk = -1;
        long unknown = 0;
        string? firstError = null;
        var backends = new ConcurrentDictionary<int, byte>();
        var pooled = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = true, MaxPoolSize = Parallelism };
        NpgsqlDataSource dataSource = NpgsqlDataSource.Create(pooled);
        Stopwatch clock = Stopwatch.StartNew();

        async Task WorkerAsync()
        {
            while (!cancellationToken.IsCancellationRequested && Volatile.Read(ref firstError) is null)
            {
                long first = (Interlocked.Increment(ref nextChunk) * ChunkSize) + 1;
                if (first > rows)
                {
                    return;
                }

                int count = (int)Math.Min(ChunkSize, rows - first + 1);
                bool sent = false;
                try
                {
                    await using NpgsqlConnection connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
                    backends.TryAdd(connection.ProcessID, 0);
                    await using var command = new NpgsqlCommand(ValuesSql(table.Name, count), connection);
                    for (long id = first; id < first + count; id++)
                    {
                        ScratchTable.Bind(command.Parameters, id);
                    }

                    sent = true;
                    await command.ExecuteNonQueryAsync(CancellationToken.None);
                    progress.Add(count);
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException)
                {
                    if (sent && ex is not PostgresException)
                    {
                        Interlocked.Add(ref unknown, count);
                    }

                    Interlocked.CompareExchange(ref firstError, ErrorMessages.Describe(ex, server: null), null);
                }
            }
        }

        Task[] workers = new Task[Parallelism];
        for (int i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(WorkerAsync, CancellationToken.None);
        }

        try
        {
            await Task.WhenAll(workers);
            clock.Stop();
        }
        finally
        {
            await dataSource.DisposeAsync();
        }

        long committed = progress.Committed;
        bool canceled = cancellationToken.IsCancellationRequested && committed + unknown < rows;
        return new InsertOutcome(committed, Interlocked.Read(ref unknown), clock.Elapsed, backends.Count, canceled, firstError);
    }

    private static async Task<InsertOutcome> CopyAsync(string connectionString, ScratchTable table, int rows, InsertProgress progress, CancellationToken cancellationToken)
    {
        var unpooled = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        Stopwatch clock = Stopwatch.StartNew();
        string? error = null;
        bool canceled = false;
        try
        {
            await using var connection = new NpgsqlConnection(unpooled.ConnectionString);
            await connection.OpenAsync(CancellationToken.None);
            await using NpgsqlBinaryImporter importer = await connection.BeginBinaryImportAsync($"COPY {table.Name} (id, payload) FROM STDIN (FORMAT BINARY)", CancellationToken.None);
            for (long id = 1; id <= rows; id++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    // All or nothing: disposing the importer without completing it cancels the COPY.
                    canceled = true;
                    break;
                }

                await importer.StartRowAsync(CancellationToken.None);
                await importer.WriteAsync(id, NpgsqlDbType.Bigint, CancellationToken.None);
                await importer.WriteAsync(ScratchTable.Payload(id), NpgsqlDbType.Text, CancellationToken.None);
            }

            if (!canceled)
            {
                _ = await importer.CompleteAsync(CancellationToken.None);
                progress.Add(rows);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException)
        {
            error = ErrorMessages.Describe(ex, server: null);
        }

        clock.Stop();
        return new InsertOutcome(progress.Committed, 0, clock.Elapsed, 1, canceled, error);
    }

    private static string ValuesSql(string table, int rows)
    {
        var sql = new StringBuilder($"INSERT INTO {table} (id, payload) VALUES ");
        for (int r = 0; r < rows; r++)
        {
            sql.Append(CultureInfo.InvariantCulture, $"{(r == 0 ? string.Empty : ", ")}(${(2 * r) + 1}, ${(2 * r) + 2})");
        }

        return sql.ToString();
    }
}
