using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.ObjectPool;
using PoolKit.Benchmarks.Anchors;

namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// <see cref="Threads"/> thread-pool threads each run acquire+return in a tight loop on one shared pool that is
/// large enough for all of them (MaxSize 64), so nobody ever waits: this measures what the shared state costs when
/// several cores touch it (cache-line traffic on slots and counters), not waiting. One invocation runs
/// <see cref="Operations"/> cycles in all; results are per cycle. Baseline: DefaultObjectPool.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("micro", "threads")]
public class ThreadSweepBenchmarks
{
    /// <summary>Acquire+return cycles per invocation, split evenly over the threads.</summary>
    public const int Operations = 1 << 16;

    private const int MaxSize = 64;

    private DefaultObjectPool<BenchResource> _objectPool = null!;
    private SemaphoreBagPool<BenchResource> _semaphoreBag = null!;
    private ConnectionPool<BenchResource> _poolKit = null!;
    private Task[] _tasks = null!;

    /// <summary>How many threads share the pool (this machine has 2 cores; 4 oversubscribes it).</summary>
    [Params(1, 2, 4)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _objectPool = new DefaultObjectPool<BenchResource>(new DefaultPooledObjectPolicy<BenchResource>(), MaxSize);
        _semaphoreBag = BenchPools.CreateSemaphoreBag(MaxSize, prewarm: 8);
        _poolKit = BenchPools.CreatePoolKit(MaxSize, prewarm: 8);
        _tasks = new Task[Threads];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _semaphoreBag.Dispose();
        _poolKit.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "ObjectPool Get+Return")]
    public void ObjectPool() => RunOnThreads(static self =>
    {
        int perThread = Operations / self.Threads;
        DefaultObjectPool<BenchResource> pool = self._objectPool;
        for (int i = 0; i < perThread; i++)
        {
            BenchResource resource = pool.Get();
            resource.Uses++;
            pool.Return(resource);
        }

        return Task.CompletedTask;
    });

    [Benchmark(OperationsPerInvoke = Operations, Description = "SemaphoreSlim+Bag await Rent+Return")]
    public void SemaphoreBag() => RunOnThreads(static async self =>
    {
        int perThread = Operations / self.Threads;
        SemaphoreBagPool<BenchResource> pool = self._semaphoreBag;
        for (int i = 0; i < perThread; i++)
        {
            BenchResource resource = await pool.RentAsync();
            resource.Uses++;
            pool.Return(resource);
        }
    });

    [Benchmark(OperationsPerInvoke = Operations, Description = "PoolKit await AcquireAsync+Dispose")]
    public void PoolKit() => RunOnThreads(static async self =>
    {
        int perThread = Operations / self.Threads;
        ConnectionPool<BenchResource> pool = self._poolKit;
        for (int i = 0; i < perThread; i++)
        {
            using PoolLease<BenchResource> lease = await pool.AcquireAsync();
            lease.Resource.Uses++;
        }
    });

    private void RunOnThreads(Func<ThreadSweepBenchmarks, Task> body)
    {
        for (int i = 0; i < _tasks.Length; i++)
        {
            _tasks[i] = Task.Run(() => body(this));
        }

        Task.WaitAll(_tasks);
    }
}
