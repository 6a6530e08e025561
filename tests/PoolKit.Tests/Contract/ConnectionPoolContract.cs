using System.Diagnostics;
using System.Reflection;
using Microsoft.Extensions.Time.Testing;
using PoolKit.Internal;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <summary>
/// The promises <see cref="IConnectionPool{T}"/> makes to its users (README, "The generic pool" and "Who gets a
/// connection"; the XML docs of <see cref="IConnectionPool{T}"/>, <see cref="PoolLease{T}"/> and
/// <see cref="ConnectionPoolOptions"/>), written once and run against every policy shape by a concrete subclass.
/// </summary>
/// <remarks>
/// The pool takes a different return path for each shape (one CAS when nothing is reset, two steps with a synchronous or
/// an asynchronous reset, a usability gate or none), so each subclass runs a different implementation of the same
/// promises. Every test here must hold for every shape; what exists for one shape only lives in its subclass. Every
/// await is bounded by <see cref="TestTimeout"/>; timeouts and lifetimes run on a <see cref="FakeTimeProvider"/>.
/// </remarks>
public abstract partial class ConnectionPoolContract
{
    protected static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Creates the policy shape under test over <paramref name="ledger"/>, which counts what it does.</summary>
    protected abstract IResourcePolicy<FakeResource> CreatePolicy(ResourceLedger ledger);

    /// <summary>Gets whether the pool should see this shape as resetting nothing (the one-CAS return).</summary>
    protected abstract bool ResetsNothing { get; }

    /// <summary>Gets whether the pool should see this shape as keeping the default IsUsable (no usability gate).</summary>
    protected abstract bool AlwaysUsable { get; }

    [Fact]
    public void Policy_IsSeenByThePoolAsTheShapeThisSuiteRunsAgainst()
    {
        // Otherwise two subclasses could silently test the same path.
        PolicyTraits<FakeResource> traits = PolicyTraits<FakeResource>.Of(CreatePolicy(new ResourceLedger()));

        Assert.Equal(ResetsNothing, traits.ResetsNothing);
        Assert.Equal(AlwaysUsable, traits.AlwaysUsable);
    }

    [Fact]
    public async Task AcquireAsync_EmptyPool_CreatesOneResourceAndLeasesIt()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);

        PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);

        Assert.True(lease.IsActive);
        Assert.Equal("contract", lease.PoolName);
        Assert.Equal(1, lease.Resource.Id);
        Assert.Equal(1, ledger.Created);
        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.Leased);
        Assert.Equal(0, stats.Idle);
        Assert.Equal(1, stats.TotalAcquires);
        Assert.Equal(0, stats.TotalAcquiresWaited);
        await pool.ReturnAsync(lease);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AcquireAndDispose_Sequentially_UseOneResource(bool disposeAsync)
    {
        // README: "A sequential acquire → dispose → acquire loop uses one connection, whether the reset is synchronous or not."
        // With an asynchronous reset, the end of a reset once created for a waiter that was about to take the slot the
        // reset had just published idle (about once in 12,000 cycles); fixed by handing idle slots to waiters before any
        // creation, see CreationInterleavingTests.ResetEndsWhileAnAcquirerEnqueues_….
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);

        for (int i = 0; i < 20; i++)
        {
            PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);
            Assert.Equal(1, lease.Resource.Id);
            if (disposeAsync)
            {
                await lease.DisposeAsync();
            }
            else
            {
                lease.Dispose();
            }
        }

        await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(1, ledger.Created);
        Assert.Equal(20, pool.GetStatistics().TotalAcquires);
    }

    [Fact]
    public async Task AcquireAsync_AfterReturnAsync_CompletesSynchronouslyWithTheSameResource()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        FakeResource resource = first.Resource;
        await pool.ReturnAsync(first).AsTask().WaitAsync(TestTimeout);

        ValueTask<PoolLease<FakeResource>> second = pool.AcquireAsync();

        Assert.True(second.IsCompletedSuccessfully, "an idle resource was there, yet the acquire did not complete at once");
        PoolLease<FakeResource> lease = second.Result;
        Assert.Same(resource, lease.Resource);
        Assert.Equal(1, ledger.Created);
        Assert.Equal(0, pool.GetStatistics().TotalAcquiresWaited);
        await pool.ReturnAsync(lease);
    }

    [Fact]
    public async Task TryAcquire_NothingIdle_ReturnsFalseWithoutCreating()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);

        Assert.False(pool.TryAcquire(out PoolLease<FakeResource> lease));

        Assert.False(lease.IsActive);
        Assert.Equal(default, lease);
        Assert.Equal(0, ledger.Created);
    }

    [Fact]
    public async Task TryAcquire_IdleResource_LeasesItWithoutCreating()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        FakeResource resource = first.Resource;
        await pool.ReturnAsync(first);

        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> lease));

        Assert.Same(resource, lease.Resource);
        Assert.Equal(1, ledger.Created);
        await pool.ReturnAsync(lease);
    }

    [Fact]
    public async Task AcquireAsync_MaxSizeLeased_LeasesAreDistinctAndTheNextWaitsForAReturn()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 4);
        var leases = new List<PoolLease<FakeResource>>();
        for (int i = 0; i < 4; i++)
        {
            leases.Add(await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout));
        }

        Task<PoolLease<FakeResource>> fifth = pool.AcquireAsync().AsTask();

        Assert.Equal(4, leases.Select(l => l.Resource).Distinct().Count());
        Assert.False(fifth.IsCompleted, "a fifth lease was handed out by a pool of 4");
        Assert.Equal(1, pool.GetStatistics().Waiting);
        Assert.Equal(4, ledger.Created);
        FakeResource returned = leases[2].Resource;
        leases[2].Dispose();
        PoolLease<FakeResource> handed = await fifth.WaitAsync(TestTimeout);
        Assert.Same(returned, handed.Resource);
        Assert.Equal(4, ledger.Created);
        leases[2] = handed;
        foreach (PoolLease<FakeResource> lease in leases)
        {
            await pool.ReturnAsync(lease);
        }

        await SettledAsync(pool, ledger, idle: 4);
    }

    [Fact]
    public async Task Hammer_ConcurrentAcquiresAndReturns_NeverExceedMaxSizeAndEveryAcquireEndsOnce()
    {
        // Bounded: 8 tasks × 300 acquires on a pool of 3 (counted, not timed, so a starved thread pool cannot make it
        // prove nothing); a hang fails after 10 s. Time is frozen (FakeTimeProvider), so nothing expires or needs
        // validation: what is counted is exactly what the tasks did.
        const int maxSize = 3;
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o =>
        {
            o.MaxSize = maxSize;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });
        var counts = new HammerCounts();

        Task[] workers = Enumerable.Range(0, 8).Select(seed => Task.Run(() => HammerAsync(pool, ledger, maxSize, seed, 300, counts))).ToArray();
        try
        {
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // Tell a stuck pool (a waiter next to a free slot) from a slow machine.
            PoolStatistics stuck = pool.GetStatistics();
            Assert.Fail($"the hammer did not end in 10 s: {counts.Attempts} of {8 * 300} attempts started; pool: waiting {stuck.Waiting}, idle {stuck.Idle}, leased {stuck.Leased}, live {stuck.Live}; created {ledger.Created}, destroyed {ledger.Destroyed}");
        }

        PoolStatistics end = await SettledAsync(pool, ledger);
        Assert.Equal(8 * 300, counts.Attempts);
        Assert.True(counts.Leased > 8 * 300 / 4, $"too few leases to prove anything: {counts.Leased}");
        Assert.Equal(0, counts.DoubleUse);
        Assert.Equal(0, counts.OverMax);
        Assert.Equal(counts.Attempts, counts.Leased + counts.Canceled + counts.TryFailed);
        Assert.Equal(counts.Leased, end.TotalAcquires);
        Assert.Equal(counts.Canceled, end.TotalAcquiresCanceled);
        Assert.InRange(end.TotalAcquiresWaited, counts.Pending, counts.Attempts);
        Assert.Equal(counts.Broken, end.DestroyedBy.Broken);
        Assert.Equal(0, end.Leased);
        Assert.Equal(ledger.Created, end.TotalCreated);
        Assert.Equal(ledger.Destroyed, end.TotalDestroyed);
        Assert.Equal(ledger.Created - ledger.Destroyed, end.Live);
        Assert.Equal(end.Live, end.Idle);
        Assert.InRange(end.Idle, 0, maxSize);
        Assert.Equal(0, ledger.DestroyedTwice);

        await pool.DisposeAsync();
        Assert.Equal(0, ledger.Alive);
        Assert.Equal(ledger.Destroyed, SumOf(pool.GetStatistics().DestroyedBy));
    }

    [Fact]
    public async Task Waiters_AreServedOneAtATimeInArrivalOrder_AndANewcomerQueuesBehindThem()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> current = await pool.AcquireAsync();
        var waiters = Enumerable.Range(0, 4).Select(_ => pool.AcquireAsync().AsTask()).ToList();
        Assert.Equal(4, pool.GetStatistics().Waiting);

        current.Dispose();
        waiters.Add(pool.AcquireAsync().AsTask()); // a newcomer while the first waiter is being served
        Assert.False(pool.TryAcquire(out _), "a newcomer took the resource a waiter was owed");

        for (int i = 0; i < waiters.Count; i++)
        {
            Task<PoolLease<FakeResource>> served = await Task.WhenAny(waiters.Skip(i)).WaitAsync(TestTimeout);
            Assert.True(ReferenceEquals(waiters[i], served), $"waiter {waiters.IndexOf(served)} was served before waiter {i}");
            current = await served;
            Assert.All(waiters.Skip(i + 1), w => Assert.False(w.IsCompleted));
            current.Dispose();
        }

        await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(1, ledger.Created);
        Assert.Equal(6, pool.GetStatistics().TotalAcquires);
        Assert.Equal(5, pool.GetStatistics().TotalAcquiresWaited);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task IdleSlotSeenWhileSomebodyWaits_ANewcomerDoesNotTakeIt(bool tryAcquire)
    {
        // The one moment a slot is idle while somebody waits: published by a returner that saw nobody waiting, before
        // its second look hands it over. A newcomer arriving then must queue (or, with TryAcquire, get nothing).
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>>? first = null;
        Task<PoolLease<FakeResource>>? newcomer = null;
        bool tookIt = false;
        var hooksRan = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.TestHookBeforePublishIdle = () =>
        {
            pool.TestHookBeforePublishIdle = null;
            first = pool.AcquireAsync().AsTask();
        };
        pool.TestHookAfterPublishIdle = () =>
        {
            pool.TestHookAfterPublishIdle = null;
            if (tryAcquire)
            {
                tookIt = pool.TryAcquire(out PoolLease<FakeResource> taken);
                taken.Dispose();
            }
            else
            {
                newcomer = pool.AcquireAsync().AsTask();
                tookIt = newcomer.IsCompleted;
            }

            hooksRan.SetResult();
        };

        held.Dispose();
        await hooksRan.Task.WaitAsync(TestTimeout);

        Assert.False(tookIt, "a newcomer took the idle slot a waiter was owed");
        (await first!.WaitAsync(TestTimeout)).Dispose();
        if (newcomer is not null)
        {
            (await newcomer.WaitAsync(TestTimeout)).Dispose();
        }

        await SettledAsync(pool, ledger, idle: 1);
    }

    [Fact]
    public async Task ResourceReturnedWhileTheAcquirerEnqueues_IsNotLost()
    {
        // Lost-wake-up proof, step 2: the acquirer looked (nothing idle) and is about to enqueue; the return sees
        // nobody waiting. No acquire timeout: a lost wake-up hangs, and the bounded await fails.
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        pool.TestHookBeforeEnqueue = () =>
        {
            pool.TestHookBeforeEnqueue = null;
            held.Dispose();
        };

        PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);

        Assert.True(lease.IsActive);
        Assert.Equal(0, pool.GetStatistics().Waiting);
        Assert.Equal(1, ledger.Created);
        await pool.ReturnAsync(lease);
    }

    [Fact]
    public async Task AcquirerEnqueuesWhileTheReturnerPublishes_GetsTheResource()
    {
        // Lost-wake-up proof, step 1: the returner saw nobody waiting; before it publishes the slot, an acquirer
        // enqueues and finds nothing idle. The returner's second look must hand it over.
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        var enqueued = new TaskCompletionSource<Task<PoolLease<FakeResource>>>(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.TestHookBeforePublishIdle = () =>
        {
            pool.TestHookBeforePublishIdle = null;
            enqueued.SetResult(pool.AcquireAsync().AsTask());
        };

        held.Dispose();
        Task<PoolLease<FakeResource>> waiter = await enqueued.Task.WaitAsync(TestTimeout);

        PoolLease<FakeResource> lease = await waiter.WaitAsync(TestTimeout);
        Assert.True(lease.IsActive);
        Assert.Equal(0, pool.GetStatistics().Idle);
        Assert.Equal(0, pool.GetStatistics().Waiting);
        Assert.Equal(1, ledger.Created);
        await pool.ReturnAsync(lease);
    }

    [Fact]
    public async Task Stress_PingPongOnOneSlotWithDuplicateDisposals_NeverLosesAWakeUpOrDoublesALease()
    {
        // One slot and no acquire timeout: a single lost wake-up leaves a waiter asleep forever and everybody queues
        // behind it (no barging), a deadlock. Every other lease is also disposed a second time through a stale copy,
        // which must never end somebody else's lease. Bounded: 3 × 5,000 rounds, deadlock reported after 10 s.
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });
        long done = 0;
        int doubleUse = 0;

        Task[] workers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 5_000; i++)
            {
                PoolLease<FakeResource> lease = await pool.AcquireAsync();
                FakeResource resource = lease.Resource;
                if (!resource.Enter())
                {
                    Interlocked.Increment(ref doubleUse);
                }

                if (i % 2 == 0)
                {
                    await Task.Yield();
                }

                resource.Exit();
                PoolLease<FakeResource> stale = lease;
                lease.Dispose();
                if (i % 2 == 1)
                {
                    stale.Dispose();
                }

                Interlocked.Increment(ref done);
            }
        })).ToArray();

        Task all = Task.WhenAll(workers);
        Task finished = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10)));
        Assert.True(finished == all, $"deadlock after {Interlocked.Read(ref done)} rounds: {pool.GetStatistics()}");
        await all;
        Assert.Equal(0, doubleUse);
        Assert.Equal(1, ledger.Created);
        await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(15_000, pool.GetStatistics().TotalAcquires);
    }

    /// <summary>Creates a pool of the shape under test: name "contract", MaxSize 4, a fake clock, no wait at disposal.</summary>
    protected ConnectionPool<FakeResource> CreatePool(out ResourceLedger ledger, out FakeTimeProvider time, Action<ConnectionPoolOptions>? configure = null)
    {
        ledger = new ResourceLedger();
        time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

        // DisposeTimeout 0: with a fake clock, waiting for outstanding leases would never time out.
        var options = new ConnectionPoolOptions { Name = "contract", MaxSize = 4, DisposeTimeout = TimeSpan.Zero };
        configure?.Invoke(options);
        return new ConnectionPool<FakeResource>(CreatePolicy(ledger), options, timeProvider: time);
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, failing with <paramref name="what"/> after <see cref="TestTimeout"/>.</summary>
    protected static async Task WaitForAsync(Func<bool> condition, Func<string> what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TestTimeout, $"not within {TestTimeout.TotalSeconds:0} s: {what()}");
            await Task.Delay(1);
        }
    }

    /// <summary>
    /// Waits until nothing is leased, waiting, created, destroyed or on its way back (an asynchronous reset finishes in
    /// the background after a Dispose), checks the ledger against the statistics and the pool's quiescent invariants.
    /// </summary>
    /// <param name="pool">The pool, with no lease outstanding.</param>
    /// <param name="ledger">Its policy's ledger.</param>
    /// <param name="idle">The idle count expected at rest, if known.</param>
    /// <returns>The statistics at rest.</returns>
    protected static async Task<PoolStatistics> SettledAsync(ConnectionPool<FakeResource> pool, ResourceLedger ledger, int? idle = null)
    {
        PoolStatistics stats = default;
        await WaitForAsync(
            () =>
            {
                stats = pool.GetStatistics();
                return stats is { Leased: 0, Waiting: 0, Creating: 0, Destroying: 0 }
                    && PrivateCounter(pool, "_returning") == 0
                    && PrivateCounter(pool, "_creating") == 0
                    && PrivateCounter(pool, "_live") == stats.Live;
            },
            () => $"the pool did not come to rest: {pool.GetStatistics()}");
        pool.AssertInvariantsQuiescent();
        if (idle is { } expected)
        {
            Assert.Equal(expected, stats.Idle);
        }

        Assert.Equal(ledger.Created - ledger.Destroyed, stats.Live);
        Assert.Equal(0, ledger.DestroyedTwice);
        return stats;
    }

    protected static long SumOf(PoolDestroyedCounts by) =>
        by.Broken + by.ClosedByCaller + by.Unusable + by.ValidationFailed + by.ResetFailed + by.Lifetime + by.Idle + by.Cleared + by.PoolDisposed;

    /// <summary>
    /// Reads one of the pool's counters. They trail the slot states by a few instructions (a counter is decremented just
    /// after the slot it counts changed), so "at rest" means they agree; nothing public exposes them exactly.
    /// </summary>
    private static int PrivateCounter(ConnectionPool<FakeResource> pool, string name)
    {
        FieldInfo field = typeof(ConnectionPool<FakeResource>).GetField(name, BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new InvalidOperationException($"ConnectionPool<T> has no field {name} any more: update the contract suite's SettledAsync.");
        return (int)field.GetValue(pool)!;
    }

    private static async Task HammerAsync(ConnectionPool<FakeResource> pool, ResourceLedger ledger, int maxSize, int seed, int rounds, HammerCounts counts)
    {
        var random = new Random(seed);
        for (int round = 0; round < rounds; round++)
        {
            Interlocked.Increment(ref counts.Attempts);
            PoolLease<FakeResource> lease;
            if (random.Next(5) == 0)
            {
                if (!pool.TryAcquire(out lease))
                {
                    Interlocked.Increment(ref counts.TryFailed);
                    await Task.Yield();
                    continue;
                }
            }
            else
            {
                // The token is canceled only once the acquire is pending, so every cancellation is one the pool sees.
                using var cts = new CancellationTokenSource();
                ValueTask<PoolLease<FakeResource>> acquire = pool.AcquireAsync(cts.Token);
                if (!acquire.IsCompleted)
                {
                    Interlocked.Increment(ref counts.Pending);
                    if (random.Next(4) == 0)
                    {
                        await cts.CancelAsync();
                    }
                }

                try
                {
                    lease = await acquire;
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref counts.Canceled);
                    continue;
                }
            }

            Interlocked.Increment(ref counts.Leased);
            FakeResource resource = lease.Resource;
            if (!resource.Enter() || resource.Destroyed)
            {
                Interlocked.Increment(ref counts.DoubleUse);
            }

            PoolStatistics sample = pool.GetStatistics();
            if (sample.Live > maxSize || sample.Idle + sample.Leased > maxSize || ledger.Alive > maxSize)
            {
                Interlocked.Increment(ref counts.OverMax);
            }

            if (random.Next(3) == 0)
            {
                await Task.Yield();
            }

            resource.Exit();
            if (random.Next(16) == 0)
            {
                lease.MarkBroken();
                Interlocked.Increment(ref counts.Broken);
            }

            switch (random.Next(3))
            {
                case 0:
                    lease.Dispose();
                    break;
                case 1:
                    await lease.DisposeAsync();
                    break;
                default:
                    await pool.ReturnAsync(lease, CancellationToken.None);
                    break;
            }
        }
    }

    private sealed class HammerCounts
    {
        public long Attempts;
        public long Leased;
        public long Canceled;
        public long TryFailed;
        public long Pending;
        public long Broken;
        public long DoubleUse;
        public long OverMax;
    }
}
