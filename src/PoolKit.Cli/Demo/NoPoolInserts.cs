using System.Diagnostics;
using Npgsql;
using PoolKit.Cli.Infrastructure;

namespace PoolKit.Cli.Demo;

/// <summary>
/// The seed's way without a pool: every insert opens its own physical connection (Npgsql with <c>Pooling=false</c>),
/// runs one autocommitted INSERT and closes it. <see cref="Parallelism"/> workers run at once, the same as the pooled
/// ways, so the comparison is fair.
/// </summary>
/// <remarks>
/// Concurrency: workers take the next row number with <see cref="Interlocked.Increment(ref long)"/> on
/// <c>next</c>, so each row is inserted by exactly one worker; <c>opened</c>, <c>unknown</c> and the progress count
/// are only incremented. The first error is kept by <see cref="Interlocked.CompareExchange{T}(ref T, T, T)"/> and
/// makes every worker stop after its current insert.
/// </remarks>
internal sealed class NoPoolInserts(int parallelism) : IInsertStrategy
{
    /// <summary>Gets how many inserts run at once.</summary>
    public int Parallelism { get; } = parallelism;

    /// <inheritdoc />
    public DemoWay Way => DemoWay.NoPool;

    /// <inheritdoc />
    public string Label => "no pool (connection per insert)";

    /// <inheritdoc />
    public async Task<InsertOutcome> RunAsync(string connectionString, ScratchTable table, int rows, InsertProgress progress, CancellationToken cancellationToken)
    {
        long next = 0;
        long opened = 0;
        long unknown = 0;
        string? firstError = null;
        string sql = table.InsertSql;
        Stopwatch clock = Stopwatch.StartNew();

        async Task WorkerAsync()
        {
            while (!cancellationToken.IsCancellationRequested && Volatile.Read(ref firstError) is null)
            {
                long id = Interlocked.Increment(ref next);
                if (id > rows)
                {
                    return;
                }

                bool sent = false;
                try
                {
                    // The insert itself is not cancelled: once sent it finishes, so the committed count stays exact.
                    await using var connection = new NpgsqlConnection(connectionString);
                    await connection.OpenAsync(CancellationToken.None);
                    Interlocked.Increment(ref opened);
                    await using var command = new NpgsqlCommand(sql, connection);
                    ScratchTable.Bind(command.Parameters, id);
                    sent = true;
                    await command.ExecuteNonQueryAsync(CancellationToken.None);
                    progress.AddOne();
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException)
                {
                    if (sent && ex is not PostgresException)
                    {
                        // The connection broke after the INSERT was sent: it may or may not have committed.
                        Interlocked.Increment(ref unknown);
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

        await Task.WhenAll(workers);
        clock.Stop();
        long committed = progress.Committed;
        bool canceled = cancellationToken.IsCancellationRequested && committed + unknown < rows;
        return new InsertOutcome(committed, Interlocked.Read(ref unknown), clock.Elapsed, Interlocked.Read(ref opened), canceled, firstError);
    }
}
