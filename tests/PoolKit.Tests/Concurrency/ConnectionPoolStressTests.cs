using System.Collections.Concurrent;
using System.Diagnostics;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Concurrency;

/// <summary>
/// Many tasks hammer one pool with random faults for a bounded time, then the books must balance:
/// live never above MaxSize at any sample, no resource held by two leases at once, every lease returned,
/// gauges back to zero, and every resource ever created either idle in the pool or destroyed.
/// </summary>
public sealed class ConnectionPoolStressTests
{
    private static readonly TimeSpan s_runFor = TimeSpan.FromSeconds(2);

    [Theory]
    [InlineData(4, 32, 1)]
    [InlineData(8, 64, 2)]
    [InlineData(1, 16, 3)]
    public async Task Stress_RandomFaults_CountsBalanceAndBoundsHold(int maxSize, int tasks, int seed)
    {
        var policy = new FaultyPolicy(seed);
        var options = new ConnectionPoolOptions
        {
            Name = $"stress-{maxSize}-{tasks}",
            MaxSize = maxSize,
            MinSize = Math.Min(2, maxSize),
            AcquireTimeout = TimeSpan.FromMilliseconds(200),
            ValidationBypassWindow = TimeSpan.FromMilliseconds(1),
            CreationBackoffInitial = TimeSpan.FromMilliseconds(1),
            CreationBackoffMax = TimeSpan.FromMilliseconds(5),
            MaintenanceInterval = TimeSpan.FromMilliseconds(20),
            IdleTimeout = TimeSpan.FromMilliseconds(50),
            MaxLifetime = TimeSpan.FromMilliseconds(300),
            MaxConcurrentCreations = 2,
        };
        var time = new HoldableTimeProvider();
        var pool = new ConnectionPool<FakeResource>(policy, options, timeProvider: time);
        var counters = new Counters();
        using var stop = new CancellationTokenSource(s_runFor);
        int maxLiveSeen = 0;

        Task sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                PoolStatistics s = pool.GetStatistics();
                maxLiveSeen = Math.Max(maxLiveSeen, s.Live);
                Assert.True(s.Live <= maxSize, $"live {s.Live} > MaxSize {maxSize}");
                Assert.True(policy.Alive <= maxSize, $"resources alive {policy.Alive} > MaxSize {maxSize}");
                await Task.Yield();
            }
        });

        Task[] workers = Enumerable.Range(0, tasks).Select(i => Task.Run(() => WorkAsync(pool, policy, counters, seed * 1000 + i, stop.Token))).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));
        await sampler.WaitAsync(TimeSpan.FromSeconds(30));

        // Quiet now: every lease is back and the books balance. Maintenance (50 ms idle timeout, 300 ms lifetime,
        // top-ups to MinSize) would keep changing the counts between two reads, so it is held first.
        await WaitQuietAsync(pool);
        time.HoldTimers();
        PoolStatistics end = await SettledAsync(pool);
        Assert.Equal(0, end.Leased);
        Assert.Equal(0, end.Waiting);
        Assert.Equal(0, end.Creating);
        Assert.Equal(counters.Acquired, counters.Returned);
        Assert.True(counters.Acquired > 100, $"too little work done: {counters.Acquired} acquires");
        Assert.Equal(0, counters.DoubleUse);
        Assert.Equal(policy.Alive, end.Idle);
        Assert.Equal(end.TotalCreated - end.TotalDestroyed, end.Idle);
        Assert.True(maxLiveSeen <= maxSize);
        pool.AssertInvariantsQuiescent();

        await pool.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(0, policy.Alive);
        Assert.Equal(0, pool.GetStatistics().Live);
    }

    [Fact]
    public async Task Stress_HandOffUnderCancellationStorm_NoWaiterIsLostOrLeaked()
    {
        var policy = new FakePolicy();
        var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "storm", MaxSize = 2, AcquireTimeout = TimeSpan.FromSeconds(5) });
        var counters = new Counters();
        using var stop = new CancellationTokenSource(s_runFor);

        Task[] workers = Enumerable.Range(0, 32).Select(i => Task.Run(async () =>
        {
            var random = new Random(i);
            while (!stop.IsCancellationRequested)
            {
                using var cts = new CancellationTokenSource();
                if (random.Next(2) == 0)
                {
                    cts.CancelAfter(random.Next(0, 2));
                }

                try
                {
                    PoolLease<FakeResource> lease = await pool.AcquireAsync(cts.Token);
                    Interlocked.Increment(ref counters.Acquired);
                    if (!lease.Resource.Enter())
                    {
                        Interlocked.Increment(ref counters.DoubleUse);
                    }

                    await Task.Yield();
                    lease.Resource.Exit();
                    lease.Dispose();
                    Interlocked.Increment(ref counters.Returned);
                }
                catch (OperationCanceledException)
                {
                }
            }
        })).ToArray();

        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));
        await WaitQuietAsync(pool);

        Assert.Equal(counters.Acquired, counters.Returned);
        Assert.Equal(0, counters.DoubleUse);
        Assert.Equal(2, policy.Created);
        PoolStatistics end = pool.GetStatistics();
        Assert.Equal(2, end.Idle);
        Assert.Equal(0, end.Waiting);
        pool.AssertInvariantsQuiescent();
        await pool.DisposeAsync();
        Assert.Equal(0, policy.Alive);
    }

    private static async Task WorkAsync(ConnectionPool<FakeResource> pool, FaultyPolicy policy, Counters counters, int seed, CancellationToken stop)
    {
        var random = new Random(seed);
        while (!stop.IsCancellationRequested)
        {
            using var cts = new CancellationTokenSource();
            if (random.Next(10) == 0)
            {
                cts.CancelAfter(random.Next(0, 3));
            }

            PoolLease<FakeResource> lease;
            try
            {
                lease = await pool.AcquireAsync(cts.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or PoolExhaustedException or ResourceCreationException or FaultyPolicy.CreateFailedException)
            {
                continue;
            }

            Interlocked.Increment(ref counters.Acquired);
            FakeResource resource = lease.Resource;
            if (!resource.Enter())
            {
                Interlocked.Increment(ref counters.DoubleUse);
            }

            if (resource.Destroyed)
            {
                Interlocked.Increment(ref counters.DoubleUse);
            }

            switch (random.Next(4))
            {
                case 0:
                    await Task.Yield();
                    break;
                case 1:
                    await Task.Delay(random.Next(0, 2), CancellationToken.None);
                    break;
                default:
                    break;
            }

            resource.Exit();
            int fault = random.Next(20);
            if (fault == 0)
            {
                lease.MarkBroken();
            }
            else if (fault == 1)
            {
                resource.Unusable = true;
            }

            if (random.Next(2) == 0)
            {
                await lease.DisposeAsync();
            }
            else
            {
                lease.Dispose();
            }

            Interlocked.Increment(ref counters.Returned);
        }
    }

    /// <summary>Waits until nothing is being created or destroyed and two reads, a maintenance interval apart, agree.</summary>
    private static async Task<PoolStatistics> SettledAsync(ConnectionPool<FakeResource> pool)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            PoolStatistics before = pool.GetStatistics();
            await Task.Delay(60);
            PoolStatistics after = pool.GetStatistics();
            if (before == after && after is { Creating: 0, Destroying: 0 })
            {
                return after;
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the pool did not settle: {after}");
        }
    }

    private static async Task WaitQuietAsync(ConnectionPool<FakeResource> pool)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            PoolStatistics s = pool.GetStatistics();
            if (s.Leased == 0 && s.Creating == 0 && s.Destroying == 0 && s.Waiting == 0)
            {
                // Let maintenance settle too (it may be mid-pass on another thread).
                await Task.Delay(50);
                s = pool.GetStatistics();
                if (s.Leased == 0 && s.Creating == 0 && s.Destroying == 0 && s.Waiting == 0)
                {
                    return;
                }
            }

            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"the pool did not quiet down: {s}");
            await Task.Delay(5);
        }
    }

    private sealed class Counters
    {
        public long Acquired;
        public long Returned;
        public long DoubleUse;
    }

    /// <summary>A policy whose operations fail at random, some synchronously and some after a yield.</summary>
    private sealed class FaultyPolicy : IResourcePolicy<FakeResource>
    {
        private readonly FakePolicy _inner = new();
        private readonly ConcurrentDictionary<int, Random> _randoms = new();
        private readonly int _seed;

        public FaultyPolicy(int seed) => _seed = seed;

        public int Alive => _inner.Alive;

        public async ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken)
        {
            Random random = Rng();
            if (random.Next(10) == 0)
            {
                throw new CreateFailedException();
            }

            if (random.Next(3) == 0)
            {
                await Task.Yield();
            }

            cancellationToken.ThrowIfCancellationRequested();
            return await _inner.CreateAsync(cancellationToken);
        }

        public bool IsUsable(FakeResource resource) => _inner.IsUsable(resource);

        public async ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            Random random = Rng();
            if (random.Next(2) == 0)
            {
                await Task.Yield();
            }

            return random.Next(10) != 0;
        }

        public async ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            Random random = Rng();
            if (random.Next(4) == 0)
            {
                await Task.Yield();
            }

            if (random.Next(30) == 0)
            {
                throw new InvalidOperationException("reset failed");
            }

            return true;
        }

        public ValueTask DestroyAsync(FakeResource resource) => _inner.DestroyAsync(resource);

        private Random Rng() => _randoms.GetOrAdd(Environment.CurrentManagedThreadId, id => new Random(_seed ^ id));

        public sealed class CreateFailedException : Exception
        {
            public CreateFailedException()
                : base("injected creation failure")
            {
            }
        }
    }
}
