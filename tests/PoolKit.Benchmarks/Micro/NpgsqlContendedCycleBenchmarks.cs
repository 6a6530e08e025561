using BenchmarkDotNet.Attributes;
using Npgsql;
using PoolKit.Benchmarks.EndToEnd;
using PoolKit.Npgsql;
using PoolKit.Testing;

namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// The Npgsql cycle under contention: <see cref="Tasks"/> tasks share a pool of <see cref="PoolSize"/> open PostgreSQL
/// connections, each looping <c>acquire; dispose</c> (no query, no yield while holding). Baseline: Npgsql's own pool
/// (<c>OpenConnectionAsync</c> + <c>Dispose</c>, Max Pool Size 16); PoolKit's default (<see cref="NpgsqlResetMode.Discard"/>)
/// and <see cref="NpgsqlResetMode.RollbackOnly"/>. Target (issue 19): the default at least as fast as Npgsql and
/// 0 B per cycle. Needs a server (see <see cref="NpgsqlCycleBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("micro", "npgsql", "contended")]
public class NpgsqlContendedCycleBenchmarks
{
    /// <summary>Acquire+return cycles per invocation, split evenly over the tasks.</summary>
    public const int Operations = 4096;

    private const int PoolSize = 16;

    private PostgresTestServer _server = null!;
    private NpgsqlDataSource _dataSource = null!;
    private NpgsqlConnectionPool _rollbackOnly = null!;
    private NpgsqlConnectionPool _discard = null!;
    private Task[] _tasks = null!;

    /// <summary>How many tasks compete for the <see cref="PoolSize"/> connections.</summary>
    [Params(1, 8, 64)]
    public int Tasks { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = PostgresTestServer.StartAsync().GetAwaiter().GetResult();
        var builder = new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Pooling = true, MaxPoolSize = PoolSize };
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        _rollbackOnly = SelectOneScenarios.CreatePoolKit(_server.ConnectionString, PoolSize, NpgsqlResetMode.RollbackOnly, "bench-npgsql-contended-rollback");
        _discard = SelectOneScenarios.CreatePoolKit(_server.ConnectionString, PoolSize, NpgsqlResetMode.Discard, "bench-npgsql-contended-discard");
        _tasks = new Task[Tasks];

        // Open every connection first so that the measured cycles never create.
        NpgsqlCycle().GetAwaiter().GetResult();
        Discard().GetAwaiter().GetResult();
        RollbackOnly().GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _rollbackOnly.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _discard.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _dataSource.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "Npgsql pool OpenConnectionAsync+Dispose, max 16")]
    public Task NpgsqlCycle()
    {
        int perTask = Operations / Tasks;
        for (int i = 0; i < _tasks.Length; i++)
        {
            _tasks[i] = NpgsqlWorker(_dataSource, perTask);
        }

        return Task.WhenAll(_tasks);
    }

    [Benchmark(OperationsPerInvoke = Operations, Description = "PoolKit AcquireAsync+Dispose, max 16, defaults (Discard)")]
    public Task Discard() => RunPoolKit(_discard);

    [Benchmark(OperationsPerInvoke = Operations, Description = "PoolKit AcquireAsync+Dispose, max 16, RollbackOnly")]
    public Task RollbackOnly() => RunPoolKit(_rollbackOnly);

    private Task RunPoolKit(NpgsqlConnectionPool pool)
    {
        int perTask = Operations / Tasks;
        for (int i = 0; i < _tasks.Length; i++)
        {
            _tasks[i] = PoolKitWorker(pool, perTask);
        }

        return Task.WhenAll(_tasks);
    }

    private static async Task NpgsqlWorker(NpgsqlDataSource dataSource, int operations)
    {
        await Task.Yield();
        for (int i = 0; i < operations; i++)
        {
            NpgsqlConnection connection = await dataSource.OpenConnectionAsync();
            await connection.DisposeAsync();
        }
    }

    private static async Task PoolKitWorker(NpgsqlConnectionPool pool, int operations)
    {
        await Task.Yield();
        for (int i = 0; i < operations; i++)
        {
            using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
        }
    }
}
