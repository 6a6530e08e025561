using BenchmarkDotNet.Attributes;
using PoolKit.Benchmarks.Anchors;

namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// Uncontended acquire+return as the pool's MaxSize grows. Target: MaxSize 1,024 costs at most 1.2x MaxSize 4
/// (compare the rows of one method across <see cref="MaxSize"/>; BenchmarkDotNet's ratio column compares methods).
/// </summary>
/// <remarks>
/// <para><see cref="AcquireReturn"/> is the case the target is about: the pool is pre-warmed with
/// min(MaxSize, 16) idle resources and nothing else is leased.</para>
/// <para><see cref="AcquireReturnMostLeased"/> is the adversarial case, reported for information: every slot but
/// the last is leased (held by the benchmark), so the one idle resource sits at the end of the slot array. It
/// shows how the acquire path's cost depends on where the idle resources are, not only on how many there are.</para>
/// </remarks>
[MemoryDiagnoser]
[BenchmarkCategory("micro", "scaling")]
public class ScalingBenchmarks
{
    private ConnectionPool<BenchResource> _idle = null!;
    private ConnectionPool<BenchResource> _mostLeased = null!;
    private PoolLease<BenchResource>[] _held = [];

    /// <summary>The pool's MaxSize (the length of its slot array).</summary>
    [Params(4, 64, 1024)]
    public int MaxSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _idle = BenchPools.CreatePoolKit(MaxSize, prewarm: Math.Min(MaxSize, 16));

        // Fill every slot, then return only the last one: it becomes the pool's single idle resource.
        _mostLeased = BenchPools.CreatePoolKit(MaxSize, prewarm: 0);
        var all = new PoolLease<BenchResource>[MaxSize];
        for (int i = 0; i < MaxSize; i++)
        {
            all[i] = _mostLeased.AcquireAsync().AsTask().GetAwaiter().GetResult();
        }

        all[^1].Dispose();
        _held = all[..^1];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (PoolLease<BenchResource> lease in _held)
        {
            lease.Dispose();
        }

        _idle.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _mostLeased.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "PoolKit await AcquireAsync+Dispose, idle pool")]
    public async ValueTask<int> AcquireReturn()
    {
        using PoolLease<BenchResource> lease = await _idle.AcquireAsync();
        return ++lease.Resource.Uses;
    }

    [Benchmark(Description = "PoolKit await AcquireAsync+Dispose, all but the last slot leased")]
    public async ValueTask<int> AcquireReturnMostLeased()
    {
        using PoolLease<BenchResource> lease = await _mostLeased.AcquireAsync();
        return ++lease.Resource.Uses;
    }
}
