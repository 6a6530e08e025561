using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.ObjectPool;
using PoolKit.Benchmarks.Anchors;

namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// One thread, an idle resource always available: the cost of one acquire plus one return.
/// Baseline: <see cref="DefaultObjectPool{T}"/> Get+Return, which does far less (no bound, no state per resource,
/// no waiters) and is the floor. Targets: PoolKit 0 B/op and within 2x of the baseline.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("micro", "uncontended")]
public class UncontendedBenchmarks
{
    private const int MaxSize = 16;

    private DefaultObjectPool<BenchResource> _objectPool = null!;
    private SemaphoreBagPool<BenchResource> _semaphoreBag = null!;
    private ConnectionPool<BenchResource> _poolKit = null!;
    private ConnectionPool<BenchResource> _poolKitNoValidation = null!;
    private ConnectionPool<BenchResource> _poolKitMillisecondClock = null!;
    private ConnectionPool<BenchResource> _poolKitResetting = null!;

    [GlobalSetup]
    public void Setup()
    {
        _objectPool = new DefaultObjectPool<BenchResource>(new DefaultPooledObjectPolicy<BenchResource>(), MaxSize);
        _objectPool.Return(_objectPool.Get());
        _semaphoreBag = BenchPools.CreateSemaphoreBag(MaxSize, prewarm: 4);
        _poolKit = BenchPools.CreatePoolKit(MaxSize, prewarm: 4);
        _poolKitNoValidation = BenchPools.CreatePoolKit(MaxSize, prewarm: 4, bypassValidationForever: true);
        _poolKitMillisecondClock = BenchPools.CreatePoolKit(MaxSize, prewarm: 4, timeProvider: MillisecondTimeProvider.Instance);
        _poolKitResetting = BenchPools.CreatePoolKit(MaxSize, prewarm: 4, bypassValidationForever: true, policy: new BenchResettingPolicy());
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _semaphoreBag.Dispose();
        _poolKit.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _poolKitNoValidation.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _poolKitMillisecondClock.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _poolKitResetting.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "ObjectPool Get+Return")]
    public int ObjectPool()
    {
        BenchResource resource = _objectPool.Get();
        int uses = ++resource.Uses;
        _objectPool.Return(resource);
        return uses;
    }

    [Benchmark(Description = "SemaphoreSlim+Bag await Rent+Return")]
    public async ValueTask<int> SemaphoreBag()
    {
        BenchResource resource = await _semaphoreBag.RentAsync();
        int uses = ++resource.Uses;
        _semaphoreBag.Return(resource);
        return uses;
    }

    [Benchmark(Description = "PoolKit await AcquireAsync+Dispose")]
    public async ValueTask<int> PoolKitAcquireAsync()
    {
        using PoolLease<BenchResource> lease = await _poolKit.AcquireAsync();
        return ++lease.Resource.Uses;
    }

    /// <summary>TryAcquire on a pool with ValidationBypassWindow = InfiniteTimeSpan (see <see cref="BenchPools.CreatePoolKit"/>).</summary>
    [Benchmark(Description = "PoolKit TryAcquire+Dispose (bypass window infinite)")]
    public int PoolKitTryAcquire()
    {
        if (!_poolKitNoValidation.TryAcquire(out PoolLease<BenchResource> lease))
        {
            throw new InvalidOperationException("an idle resource was expected");
        }

        using (lease)
        {
            return ++lease.Resource.Uses;
        }
    }

    /// <summary>
    /// Diagnostic: the TryAcquire row with a policy that overrides ResetAsync (<see cref="BenchResettingPolicy"/>). The
    /// rows above use a policy that keeps the default, empty reset, which lets a return end the lease and publish the
    /// slot in one CAS; any policy with a reset of its own pays one more CAS per return (two steps).
    /// </summary>
    [Benchmark(Description = "diag: PoolKit TryAcquire+Dispose, policy with its own ResetAsync (two-step return)")]
    public int PoolKitTryAcquireResettingPolicy()
    {
        if (!_poolKitResetting.TryAcquire(out PoolLease<BenchResource> lease))
        {
            throw new InvalidOperationException("an idle resource was expected");
        }

        using (lease)
        {
            return ++lease.Resource.Uses;
        }
    }

    /// <summary>Diagnostic: the AcquireAsync row with a cheap clock (see <see cref="MillisecondTimeProvider"/>).</summary>
    [Benchmark(Description = "diag: PoolKit await AcquireAsync+Dispose, ms clock")]
    public async ValueTask<int> PoolKitAcquireAsyncMillisecondClock()
    {
        using PoolLease<BenchResource> lease = await _poolKitMillisecondClock.AcquireAsync();
        return ++lease.Resource.Uses;
    }
}
