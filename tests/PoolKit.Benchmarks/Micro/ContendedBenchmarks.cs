using BenchmarkDotNet.Attributes;
using PoolKit.Benchmarks.Anchors;

namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// <see cref="Tasks"/> tasks share a pool of <see cref="PoolSize"/> resources; each task loops
/// <c>acquire; await Task.Yield(); return</c>, so it holds its resource across a real asynchronous hop and the
/// others really wait. One invocation runs <see cref="Operations"/> acquire+return cycles in all; results are per
/// cycle. Baseline: the SemaphoreSlim + ConcurrentBag pool. Targets: PoolKit at least 2x the baseline's throughput
/// (at most half its time per operation) and at most 64 B/op.
/// </summary>
/// <remarks>
/// The harness itself allocates per invocation (one async state machine per task, the task array, WhenAll):
/// about 200 B per task, i.e. under 2 B/op at 64 tasks over <see cref="Operations"/> operations, for both rows.
/// </remarks>
[MemoryDiagnoser]
[BenchmarkCategory("micro", "contended")]
public class ContendedBenchmarks
{
    /// <summary>Acquire+return cycles per invocation, split evenly over the tasks.</summary>
    public const int Operations = 8192;

    private const int PoolSize = 4;

    private ConnectionPool<BenchResource> _poolKit = null!;
    private ConnectionPool<BenchResource> _poolKitMillisecondClock = null!;
    private SemaphoreBagPool<BenchResource> _semaphoreBag = null!;
    private Task[] _tasks = null!;

    /// <summary>How many tasks compete for the <see cref="PoolSize"/> resources.</summary>
    [Params(1, 8, 64)]
    public int Tasks { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _poolKit = BenchPools.CreatePoolKit(PoolSize, prewarm: PoolSize);
        _poolKitMillisecondClock = BenchPools.CreatePoolKit(PoolSize, prewarm: PoolSize, timeProvider: MillisecondTimeProvider.Instance);
        _semaphoreBag = BenchPools.CreateSemaphoreBag(PoolSize, prewarm: PoolSize);
        _tasks = new Task[Tasks];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _semaphoreBag.Dispose();
        _poolKit.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _poolKitMillisecondClock.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "SemaphoreSlim+Bag, pool of 4")]
    public Task SemaphoreBag()
    {
        int perTask = Operations / Tasks;
        for (int i = 0; i < _tasks.Length; i++)
        {
            _tasks[i] = SemaphoreBagWorker(_semaphoreBag, perTask);
        }

        return Task.WhenAll(_tasks);
    }

    [Benchmark(OperationsPerInvoke = Operations, Description = "PoolKit, pool of 4")]
    public Task PoolKit()
    {
        int perTask = Operations / Tasks;
        for (int i = 0; i < _tasks.Length; i++)
        {
            _tasks[i] = PoolKitWorker(_poolKit, perTask);
        }

        return Task.WhenAll(_tasks);
    }

    /// <summary>Diagnostic: the PoolKit row with a cheap clock (see <see cref="MillisecondTimeProvider"/>).</summary>
    [Benchmark(OperationsPerInvoke = Operations, Description = "diag: PoolKit, pool of 4, ms clock")]
    public Task PoolKitMillisecondClock()
    {
        int perTask = Operations / Tasks;
        for (int i = 0; i < _tasks.Length; i++)
        {
            _tasks[i] = PoolKitWorker(_poolKitMillisecondClock, perTask);
        }

        return Task.WhenAll(_tasks);
    }

    /// <summary>
    /// Diagnostic floor: the same tasks and the same <c>await Task.Yield()</c>, with no pool at all. Every pool row
    /// pays this hop plus one thread-pool dispatch per hand-off to a waiter, so (row − floor) is the pool's own cost.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Operations, Description = "diag: no pool, Task.Yield only (floor)")]
    public Task YieldOnly()
    {
        int perTask = Operations / Tasks;
        for (int i = 0; i < _tasks.Length; i++)
        {
            _tasks[i] = YieldWorker(perTask);
        }

        return Task.WhenAll(_tasks);
    }

    /// <summary>The floor's worker (also used by the plain loop): <paramref name="operations"/> hops, no pool.</summary>
    internal static async Task YieldWorker(int operations)
    {
        for (int i = 0; i < operations; i++)
        {
            await Task.Yield();
        }
    }

    /// <summary>The anchor's worker (also used by the plain loop): rent, hop, return.</summary>
    internal static async Task SemaphoreBagWorker(SemaphoreBagPool<BenchResource> pool, int operations)
    {
        for (int i = 0; i < operations; i++)
        {
            BenchResource resource = await pool.RentAsync();
            resource.Uses++;
            await Task.Yield();
            pool.Return(resource);
        }
    }

    /// <summary>PoolKit's worker (also used by the plain loop): acquire, hop, return.</summary>
    internal static async Task PoolKitWorker(ConnectionPool<BenchResource> pool, int operations)
    {
        for (int i = 0; i < operations; i++)
        {
            using PoolLease<BenchResource> lease = await pool.AcquireAsync();
            lease.Resource.Uses++;
            await Task.Yield();
        }
    }
}
