using System.Diagnostics;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Concurrency;

/// <summary>
/// Workers hammer acquire/return while a controller resizes the pool up and down and pauses it; then every acquire
/// must have been served (none lost, none timed out), no resource held twice, and at rest live ≤ the current MaxSize.
/// </summary>
public sealed class ResizeStressTests
{
    private static readonly TimeSpan s_runFor = TimeSpan.FromSeconds(2);

    [Theory]
    [InlineData(16, 1, false)]
    [InlineData(32, 2, true)]
    public async Task Stress_ResizeAndPauseUnderLoad_NoAcquireLostAndLiveWithinMaxAtRest(int tasks, int seed, bool asyncReset)
    {
        var policy = new FakePolicy();
        if (asyncReset)
        {
            policy.ResetGate = static async () => await Task.Yield();
            policy.CreateGate = static async _ => await Task.Yield();
        }

        var options = new ConnectionPoolOptions
        {
            Name = $"resize-stress-{seed}",
            MaxSize = 4,
            // Long enough that only a lost wake-up (or a pool stuck paused) can make an acquire fail.
            AcquireTimeout = TimeSpan.FromSeconds(20),
            MaxConcurrentCreations = 2,
        };
        var pool = new ConnectionPool<FakeResource>(policy, options);
        long acquired = 0, returned = 0, doubleUse = 0, failed = 0;
        using var stop = new CancellationTokenSource(s_runFor);

        Task[] workers = Enumerable.Range(0, tasks).Select(i => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                PoolLease<FakeResource> lease;
                try
                {
                    lease = await pool.AcquireAsync();
                }
                catch (PoolExhaustedException)
                {
                    Interlocked.Increment(ref failed);
                    continue;
                }

                Interlocked.Increment(ref acquired);
                if (!lease.Resource.Enter())
                {
                    Interlocked.Increment(ref doubleUse);
                }

                await Task.Yield();
                lease.Resource.Exit();
                await lease.DisposeAsync();
                Interlocked.Increment(ref returned);
            }
        })).ToArray();

        int finalMax = 0;
        Task controller = Task.Run(async () =>
        {
            var random = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                int max = random.Next(1, 13);
                pool.Resize(random.Next(0, Math.Min(max, 3) + 1), max);
                finalMax = max;
                if (random.Next(4) == 0)
                {
                    pool.Pause();
                    await Task.Delay(random.Next(0, 3));
                    pool.Resume();
                }

                await Task.Delay(random.Next(0, 3));
            }
        });

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60));
        await controller.WaitAsync(TimeSpan.FromSeconds(10));

        PoolStatistics end = await SettledAsync(pool);
        Assert.Equal(0, Interlocked.Read(ref failed));
        Assert.Equal(0, Interlocked.Read(ref doubleUse));
        Assert.Equal(Interlocked.Read(ref acquired), Interlocked.Read(ref returned));
        Assert.True(acquired > 100, $"too little work done: {acquired} acquires");
        Assert.Equal(finalMax, end.MaxSize);
        Assert.True(end.Live <= finalMax, $"at rest live {end.Live} > MaxSize {finalMax}: {end}");
        Assert.Equal(0, end.Leased);
        Assert.Equal(0, end.Waiting);
        Assert.Equal(policy.Alive, end.Idle);
        Assert.True(end.DestroyedBy.Resized > 0, $"no shrink ever destroyed anything: {end}");
        pool.AssertInvariantsQuiescent();

        await pool.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, policy.Alive);
    }

    private static async Task<PoolStatistics> SettledAsync(ConnectionPool<FakeResource> pool)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            PoolStatistics before = pool.GetStatistics();
            await Task.Delay(60);
            PoolStatistics after = pool.GetStatistics();
            if (before == after && after is { Creating: 0, Destroying: 0, Leased: 0 })
            {
                return after;
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the pool did not settle: {after}");
        }
    }
}
