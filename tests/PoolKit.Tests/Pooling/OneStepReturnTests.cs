using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary>
/// The return path of a policy that resets nothing: one CAS ends the lease and publishes the slot. These tests repeat
/// the lease and lost-wake-up guarantees for that path, which the <see cref="FakePolicy"/> tests never take.
/// </summary>
public sealed class OneStepReturnTests
{
    [Fact]
    public async Task Dispose_Twice_IsIdempotent()
    {
        await using ConnectionPool<FakeResource> pool = Create(out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();

        lease.Dispose();
        lease.Dispose();

        Assert.False(lease.IsActive);
        Assert.Throws<LeaseAlreadyReturnedException>(() => lease.Resource);
        Assert.Equal(1, pool.GetStatistics().Idle);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task ReturnAsync_Twice_ThrowsLeaseAlreadyReturned()
    {
        await using ConnectionPool<FakeResource> pool = Create(out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();

        await pool.ReturnAsync(lease);

        await Assert.ThrowsAsync<LeaseAlreadyReturnedException>(() => pool.ReturnAsync(lease).AsTask());
        Assert.Equal(1, pool.GetStatistics().Idle);
    }

    [Fact]
    public async Task Dispose_StaleCopyAfterTheSlotWasLeasedAgain_DoesNotTouchTheNewLease()
    {
        await using ConnectionPool<FakeResource> pool = Create(out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        PoolLease<FakeResource> copy = first;
        first.Dispose();
        PoolLease<FakeResource> second = await pool.AcquireAsync();

        copy.Dispose();

        Assert.True(second.IsActive);
        Assert.False(pool.TryAcquire(out _));
        second.Dispose();
        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> third));
        third.Dispose();
    }

    [Fact]
    public async Task Dispose_BrokenLease_DestroysTheResource()
    {
        await using ConnectionPool<FakeResource> pool = Create(out NoResetPolicy policy);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();

        lease.MarkBrokenAndDispose();

        Assert.Equal(0, pool.GetStatistics().Live);
        Assert.Equal(0, policy.Alive);
    }

    [Fact]
    public async Task Dispose_AcquirerEnqueuesWhileTheReturnerPublishes_GetsTheResource()
    {
        await using ConnectionPool<FakeResource> pool = Create(out _, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>>? waiter = null;

        // The returner saw nobody waiting and is about to publish in its single CAS; an acquirer enqueues now and
        // finds the slot still leased. The returner must see it after publishing and hand the slot over.
        pool.TestHookBeforePublishIdle = () =>
        {
            pool.TestHookBeforePublishIdle = null;
            waiter = pool.AcquireAsync().AsTask();
            Assert.False(waiter.IsCompleted);
        };
        held.Dispose();

        using PoolLease<FakeResource> lease = await waiter!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(lease.IsActive);
        Assert.Equal(0, pool.GetStatistics().Idle);
        Assert.Equal(0, pool.GetStatistics().Waiting);
    }

    [Fact]
    public async Task Dispose_ConcurrentDisposalsOfCopies_ReturnTheLeaseExactlyOnce()
    {
        var policy = new NoResetPolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "dup", MaxSize = 1 });
        for (int i = 0; i < 2_000; i++)
        {
            PoolLease<FakeResource> lease = await pool.AcquireAsync();
            PoolLease<FakeResource> copy = lease;
            using var start = new Barrier(2);
            Task other = Task.Run(() =>
            {
                start.SignalAndWait();
                copy.Dispose();
            });
            start.SignalAndWait();
            lease.Dispose();
            await other;

            // Exactly one return took effect: one lease can be taken, a second cannot.
            Assert.True(pool.TryAcquire(out PoolLease<FakeResource> again), $"round {i}: the resource was lost");
            Assert.False(pool.TryAcquire(out _), $"round {i}: the resource was published twice");
            again.Dispose();
        }

        Assert.Equal(1, policy.Created);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task Stress_PingPongWithDuplicateDisposals_NeverLosesAWakeUpOrDoubleLeases()
    {
        // One slot and no acquire timeout: a lost wake-up deadlocks. Every other lease is also disposed a second
        // time through a stale copy, which must never end somebody else's lease.
        var policy = new NoResetPolicy();
        var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "ping-pong-1cas", MaxSize = 1, AcquireTimeout = Timeout.InfiniteTimeSpan });
        long done = 0;
        int doubleUse = 0;

        Task[] workers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 20_000; i++)
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
        Task finished = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == all, $"deadlock after {Interlocked.Read(ref done)} operations: {pool.GetStatistics()}");
        await all;
        Assert.Equal(0, doubleUse);
        Assert.Equal(1, policy.Created);
        Assert.Equal(1, pool.GetStatistics().Idle);
        pool.AssertInvariantsQuiescent();
        await pool.DisposeAsync();
        Assert.Equal(0, policy.Alive);
    }

    private static ConnectionPool<FakeResource> Create(out NoResetPolicy policy, Action<ConnectionPoolOptions>? configure = null)
    {
        policy = new NoResetPolicy();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new ConnectionPoolOptions { Name = "one-step", MaxSize = 4, DisposeTimeout = TimeSpan.Zero };
        configure?.Invoke(options);
        return new ConnectionPool<FakeResource>(policy, options, timeProvider: time);
    }
}
