using PoolKit.Benchmarks.Anchors;

namespace PoolKit.Benchmarks.Micro;

/// <summary>Builds the pools the microbenchmarks compare, configured the same way everywhere.</summary>
internal static class BenchPools
{
    /// <summary>
    /// A PoolKit pool with default options except <paramref name="maxSize"/>. ValidationBypassWindow keeps its
    /// default (500 ms): resources are reused within nanoseconds so the bypass always applies, and the policy's
    /// ValidateAsync completes synchronously anyway. No logger, no meter listener: histograms stay disabled.
    /// </summary>
    /// <param name="maxSize">The pool's MaxSize.</param>
    /// <param name="prewarm">How many resources to create before measuring.</param>
    /// <param name="bypassValidationForever">
    /// Sets ValidationBypassWindow to <see cref="Timeout.InfiniteTimeSpan"/>, so that the TryAcquire rows measure the pure
    /// path: after BenchmarkDotNet's pauses (over 500 ms) the first TryAcquire would otherwise validate the resource.
    /// </param>
    /// <param name="timeProvider">The pool's clock; <see cref="TimeProvider.System"/> by default.</param>
    /// <param name="policy">The policy; a <see cref="BenchResourcePolicy"/> (which keeps the default, empty reset) by default.</param>
    public static ConnectionPool<BenchResource> CreatePoolKit(int maxSize, int prewarm, bool bypassValidationForever = false, TimeProvider? timeProvider = null, IResourcePolicy<BenchResource>? policy = null)
    {
        var options = new ConnectionPoolOptions { Name = "bench", MaxSize = maxSize };
        if (bypassValidationForever)
        {
            options.ValidationBypassWindow = Timeout.InfiniteTimeSpan;
        }

        var pool = new ConnectionPool<BenchResource>(policy ?? new BenchResourcePolicy(), options, timeProvider: timeProvider);
        Prewarm(pool, prewarm);
        return pool;
    }

    /// <summary>Creates <paramref name="count"/> resources by holding that many leases at once, then returns them all.</summary>
    public static void Prewarm(ConnectionPool<BenchResource> pool, int count)
    {
        var held = new PoolLease<BenchResource>[count];
        for (int i = 0; i < count; i++)
        {
            held[i] = pool.AcquireAsync().AsTask().GetAwaiter().GetResult();
        }

        foreach (PoolLease<BenchResource> lease in held)
        {
            lease.Dispose();
        }
    }

    /// <summary>A hand-written SemaphoreSlim + ConcurrentBag pool, pre-warmed the same way.</summary>
    public static SemaphoreBagPool<BenchResource> CreateSemaphoreBag(int maxSize, int prewarm)
    {
        var pool = new SemaphoreBagPool<BenchResource>(maxSize, static () => new BenchResource());
        var held = new BenchResource[prewarm];
        for (int i = 0; i < prewarm; i++)
        {
            held[i] = pool.RentAsync().AsTask().GetAwaiter().GetResult();
        }

        foreach (BenchResource resource in held)
        {
            pool.Return(resource);
        }

        return pool;
    }
}
