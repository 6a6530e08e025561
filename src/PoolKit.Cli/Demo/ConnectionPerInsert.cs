using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using PoolKit.Cli.Infrastructure;
using PoolKit.Npgsql;

namespace PoolKit.Cli.Demo;

/// <summary>
/// The seed's pattern: every insert takes a connection of its own, runs one autocommitted INSERT and gives the
/// connection back. Where the connection comes from is the only difference between the ways that use it: a new
/// physical connection each time (no pool), Npgsql's own pool with its defaults, or PoolKit's pool with its defaults.
/// <see cref="Parallelism"/> workers run at once in every way, and the pools' maximum size is the same number.
/// </summary>
/// <remarks>
/// Concurrency: workers take the next row number with <see cref="Interlocked.Increment(ref long)"/> on
/// <c>next</c>, so each row is inserted by exactly one worker; <c>opened</c>, <c>unknown</c> and the progress count
/// are only incremented, and the backends seen are collected in a concurrent set. The first error is kept by
/// <see cref="Interlocked.CompareExchange{T}(ref T, T, T)"/> and makes every worker stop after its current insert.
/// </remarks>
internal sealed class ConnectionPerInsert(DemoWay way, int parallelism) : IInsertStrategy
{
    /// <summary>Gets how many inserts run at once (and the pools' maximum size).</summary>
    public int Parallelism { get; } = parallelism;

    /// <inheritdoc />
    public DemoWay Way { get; } = way is DemoWay.NoPool or DemoWay.NpgsqlPool or DemoWay.PoolKitPerInsert
        ? way
        : throw new ArgumentOutOfRangeException(nameof(way), way, "Not a connection-per-insert way.");

    /// <inheritdoc />
    public string Label => Way switch
    {
        DemoWay.NoPool => "no pool: conn per insert",
        DemoWay.NpgsqlPool => "Npgsql pool: conn per insert",
        _ => "PoolKit pool: conn per insert",
    };

    /// <inheritdoc />
    public async Task<InsertOutcome> RunAsync(string connectionString, ScratchTable table, int rows, InsertProgress progress, CancellationToken cancellationToken)
    {
        long next = 0;
        long opened = 0;
        long unknown = 0;
        string? firstError = null;
        var backends = new ConcurrentDictionary<int, byte>();
        string sql = table.InsertSql;

        Source source = Source.Create(Way, connectionString, Parallelism);
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
                    await using Source.Connection connection = await source.OpenAsync();
                    Interlocked.Increment(ref opened);
                    backends.TryAdd(connection.Value.ProcessID, 0);
                    try
                    {
                        await using var command = new NpgsqlCommand(sql, connection.Value);
                        ScratchTable.Bind(command.Parameters, id);
                        sent = true;
                        await command.ExecuteNonQueryAsync(CancellationToken.None);
                    }
                    catch (Exception ex)
                    {
                        connection.MarkBrokenIf(ex);
                        throw;
                    }

                    progress.AddOne();
                }
                catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException or PoolExhaustedException or ResourceCreationException)
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

        try
        {
            await Task.WhenAll(workers);
            clock.Stop();
        }
        finally
        {
            await source.DisposeAsync();
        }

        long committed = progress.Committed;
        bool canceled = cancellationToken.IsCancellationRequested && committed + unknown < rows;

        // Client-side count of physical connections: every open without a pool; PoolKit's own count of what it opened
        // (read after its disposal, so a creation nobody needed any more is counted too); the distinct backends
        // Npgsql's pool handed out.
        long physical = Way switch
        {
            DemoWay.NoPool => Interlocked.Read(ref opened),
            DemoWay.PoolKitPerInsert => source.PoolKitCreated,
            _ => backends.Count,
        };
        return new InsertOutcome(committed, Interlocked.Read(ref unknown), clock.Elapsed, physical, canceled, firstError);
    }

    /// <summary>Where a way's connections come from; disposing it closes every physical connection it kept.</summary>
    private sealed class Source : IAsyncDisposable
    {
        private readonly NpgsqlDataSource? _dataSource;
        private readonly NpgsqlConnectionPool? _pool;

        private Source(NpgsqlDataSource? dataSource, NpgsqlConnectionPool? pool)
        {
            _dataSource = dataSource;
            _pool = pool;
        }

        public static Source Create(DemoWay way, string connectionString, int parallelism)
        {
            switch (way)
            {
                case DemoWay.PoolKitPerInsert:
                    return new Source(null, NpgsqlConnectionPool.Create(connectionString, new ConnectionPoolOptions { Name = "poolkit-demo", MaxSize = parallelism }));
                case DemoWay.NpgsqlPool:
                    var pooled = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = true, MaxPoolSize = parallelism };
                    return new Source(NpgsqlDataSource.Create(pooled), null);
                default:
                    var unpooled = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
                    return new Source(NpgsqlDataSource.Create(unpooled), null);
            }
        }

        public async ValueTask<Connection> OpenAsync()
        {
            if (_pool is not null)
            {
                PoolLease<NpgsqlConnection> lease = await _pool.AcquireAsync(CancellationToken.None);
                return new Connection(lease.Resource, lease, leased: true);
            }

            return new Connection(await _dataSource!.OpenConnectionAsync(CancellationToken.None), default, leased: false);
        }

        /// <summary>Gets how many connections PoolKit's pool opened, once the source is disposed.</summary>
        public long PoolKitCreated { get; private set; }

        public async ValueTask DisposeAsync()
        {
            if (_pool is not null)
            {
                await _pool.DisposeAsync();
                PoolKitCreated = _pool.GetStatistics().TotalCreated;
            }

            if (_dataSource is not null)
            {
                await _dataSource.DisposeAsync();
            }
        }

        /// <summary>One insert's connection: a lease of PoolKit's pool, or an <see cref="NpgsqlConnection"/> to dispose.</summary>
        public readonly struct Connection(NpgsqlConnection value, PoolLease<NpgsqlConnection> lease, bool leased) : IAsyncDisposable
        {
            public NpgsqlConnection Value { get; } = value;

            public void MarkBrokenIf(Exception error)
            {
                if (leased)
                {
                    lease.MarkBrokenIf(error);
                }
            }

            public ValueTask DisposeAsync() => leased ? lease.DisposeAsync() : Value.DisposeAsync();
        }
    }
}
