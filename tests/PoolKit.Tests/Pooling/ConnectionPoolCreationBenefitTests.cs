using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary>Creation only when it helps: a waiter causes a creation only when its expected wait exceeds the observed creation time.</summary>
public sealed class ConnectionPoolCreationBenefitTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_creation = TimeSpan.FromMilliseconds(150);
    private static readonly TimeSpan s_holdPerConnection = TimeSpan.FromTicks(TimeSpan.TicksPerMillisecond * 2 / 5);

    [Fact]
    public async Task Spike_50Requests2MsAgainst5IdleWithCreation150Ms_WithHistory_NoGrowth()
    {
        await using var pool = CreatePool(out FakePolicy policy, out FakeTimeProvider time);
        await WarmUpWithHistoryAsync(pool, time);
        Assert.Equal(5, policy.Created);

        await RunSpikeAsync(pool, time);

        Assert.Equal(5, policy.Created);
        Assert.Equal(5, pool.GetStatistics().Live);
    }

    [Fact]
    public async Task Spike_WithoutServiceHistory_CreatesAsBefore()
    {
        await using var pool = CreatePool(out FakePolicy policy, out FakeTimeProvider time);
        var warm = new List<PoolLease<FakeResource>>();
        for (int i = 0; i < 5; i++)
        {
            warm.Add(await pool.AcquireAsync());
        }

        foreach (PoolLease<FakeResource> lease in warm)
        {
            await lease.DisposeAsync();
        }

        await RunSpikeAsync(pool, time);

        Assert.True(policy.Created > 5, $"created {policy.Created}: without history the pool must create for the spike as before");
    }

    [Fact]
    public async Task HeldBack_NothingServedForACreationTime_CreatesThen()
    {
        await using var pool = CreatePool(out FakePolicy policy, out FakeTimeProvider time);
        await WarmUpWithHistoryAsync(pool, time);
        var held = new List<PoolLease<FakeResource>>();
        for (int i = 0; i < 5; i++)
        {
            held.Add(await pool.AcquireAsync());
        }

        // Every lease stuck: the waiter is held back only while the estimate is fresh.
        Task<PoolLease<FakeResource>> waiter = pool.AcquireAsync().AsTask();
        Assert.False(waiter.IsCompleted);
        Assert.Equal(5, policy.Created);

        time.Advance(s_creation);

        using PoolLease<FakeResource> served = await waiter.WaitAsync(s_testTimeout);
        Assert.Equal(6, policy.Created);
        foreach (PoolLease<FakeResource> lease in held)
        {
            await lease.DisposeAsync();
        }
    }

    /// <summary>A pool of at most 10 whose creations take 150 ms of the fake clock (synchronously: the creation advances it).</summary>
    private static ConnectionPool<FakeResource> CreatePool(out FakePolicy policy, out FakeTimeProvider time)
    {
        ConnectionPool<FakeResource> pool = PoolFactory.Create(out policy, out time, o =>
        {
            o.MaxSize = 10;
            o.CreateOnlyWhenItHelps = true;
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
            o.ValidationBypassWindow = Timeout.InfiniteTimeSpan;
        });
        FakeTimeProvider clock = time;
        policy.CreateGate = _ =>
        {
            clock.Advance(s_creation);
            return Task.CompletedTask;
        };
        return pool;
    }

    /// <summary>
    /// Creates 5 connections (creation time observed: 150 ms), then, with the pool held at 5, serves 12 queued
    /// waiters one return every 0.4 ms (2 ms holds on 5 connections): the service history.
    /// </summary>
    private static async Task WarmUpWithHistoryAsync(ConnectionPool<FakeResource> pool, FakeTimeProvider time)
    {
        pool.Resize(0, 5);
        var held = new Queue<PoolLease<FakeResource>>();
        for (int i = 0; i < 5; i++)
        {
            held.Enqueue(await pool.AcquireAsync());
        }

        var waiters = Enumerable.Range(0, 12).Select(_ => pool.AcquireAsync().AsTask()).ToList();
        foreach (Task<PoolLease<FakeResource>> waiter in waiters)
        {
            time.Advance(s_holdPerConnection);
            await held.Dequeue().DisposeAsync();
            held.Enqueue(await waiter.WaitAsync(s_testTimeout));
        }

        while (held.Count > 0)
        {
            await held.Dequeue().DisposeAsync();
        }

        pool.Resize(0, 10);
        Assert.Equal(5, pool.GetStatistics().Idle);
    }

    /// <summary>50 requests at once, each holding 2 ms: 5 served at once, 45 queue; one return every 0.4 ms.</summary>
    private static async Task RunSpikeAsync(ConnectionPool<FakeResource> pool, FakeTimeProvider time)
    {
        var held = new Queue<PoolLease<FakeResource>>();
        var waiters = new List<Task<PoolLease<FakeResource>>>();
        for (int i = 0; i < 50; i++)
        {
            ValueTask<PoolLease<FakeResource>> acquire = pool.AcquireAsync();
            if (acquire.IsCompletedSuccessfully)
            {
                held.Enqueue(acquire.Result);
            }
            else
            {
                waiters.Add(acquire.AsTask());
            }
        }

        foreach (Task<PoolLease<FakeResource>> waiter in waiters)
        {
            if (!waiter.IsCompleted)
            {
                time.Advance(s_holdPerConnection);
                await held.Dequeue().DisposeAsync();
            }

            held.Enqueue(await waiter.WaitAsync(s_testTimeout));
        }

        while (held.Count > 0)
        {
            await held.Dequeue().DisposeAsync();
        }
    }
}
