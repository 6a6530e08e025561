using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary><see cref="ConnectionPoolOptions.AllowSynchronousContinuations"/>: inline hand-off, bounded stack, context flow.</summary>
public sealed class SynchronousContinuationsTests
{
    private static readonly AsyncLocal<string?> s_flow = new();

    [Fact]
    public async Task Dispose_WithAWaiter_RunsTheWaitersContinuationBeforeReturning()
    {
        await using ConnectionPool<FakeResource> pool = Create(synchronous: true, maxSize: 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        int continuationThread = 0;
        Task waiter = Task.Run(async () =>
        {
            s_flow.Value = "acquirer";
            using PoolLease<FakeResource> lease = await pool.AcquireAsync();
            continuationThread = Environment.CurrentManagedThreadId;
            Assert.Equal("acquirer", s_flow.Value);
        });
        await WaitUntilAsync(() => pool.GetStatistics().Waiting == 1);

        s_flow.Value = "returner";
        held.Dispose();

        // The acquirer's code ran to completion inside Dispose, on this thread, under its own ExecutionContext.
        Assert.True(waiter.IsCompleted);
        Assert.Equal(Environment.CurrentManagedThreadId, continuationThread);
        Assert.Equal("returner", s_flow.Value);
        await waiter;
        Assert.Equal(1, pool.GetStatistics().Idle);
    }

    [Fact]
    public async Task Dispose_ByDefault_DoesNotRunTheWaitersContinuationInline()
    {
        await using ConnectionPool<FakeResource> pool = Create(synchronous: false, maxSize: 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        using var gate = new ManualResetEventSlim();
        Task waiter = Task.Run(async () =>
        {
            using PoolLease<FakeResource> lease = await pool.AcquireAsync();
            gate.Wait();
        });
        await WaitUntilAsync(() => pool.GetStatistics().Waiting == 1);

        // Were the continuation inline, Dispose would block on the gate.
        Task disposing = Task.Run(held.Dispose);
        bool returnedFirst = await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromSeconds(5))) == disposing;
        gate.Set();
        Assert.True(returnedFirst, "Dispose waited for the acquirer's continuation");
        await waiter.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Dispose_ChainOfWaitersEachReturningAtOnce_DoesNotDiveTheStack()
    {
        // Each acquirer returns its lease as soon as it gets it, handing off to the next: run inline without a
        // bound this would nest 20,000 continuations deep on one stack.
        const int count = 20_000;
        await using ConnectionPool<FakeResource> pool = Create(synchronous: true, maxSize: 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        var waiters = new Task[count];
        for (int i = 0; i < count; i++)
        {
            waiters[i] = AcquireAndReturnAsync(pool);
        }

        Assert.Equal(count, pool.GetStatistics().Waiting);
        held.Dispose();

        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(1, pool.GetStatistics().Idle);
        Assert.Equal(0, pool.GetStatistics().Waiting);
        pool.AssertInvariantsQuiescent();

        static async Task AcquireAndReturnAsync(ConnectionPool<FakeResource> pool)
        {
            PoolLease<FakeResource> lease = await pool.AcquireAsync();
            lease.Dispose();
        }
    }

    [Fact]
    public async Task Stress_PingPongOnOneSlot_NeverLosesAWakeUpOrDoubleLeases()
    {
        var policy = new NoResetPolicy();
        var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions
        {
            Name = "ping-pong-inline",
            MaxSize = 2,
            AcquireTimeout = Timeout.InfiniteTimeSpan,
            AllowSynchronousContinuations = true,
        });
        long done = 0;
        int doubleUse = 0;

        Task[] workers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 10_000; i++)
            {
                PoolLease<FakeResource> lease = await pool.AcquireAsync();
                FakeResource resource = lease.Resource;
                if (!resource.Enter())
                {
                    Interlocked.Increment(ref doubleUse);
                }

                if (i % 3 == 0)
                {
                    await Task.Yield();
                }

                resource.Exit();
                lease.Dispose();
                Interlocked.Increment(ref done);
            }
        })).ToArray();

        Task all = Task.WhenAll(workers);
        Task finished = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(finished == all, $"deadlock after {Interlocked.Read(ref done)} operations: {pool.GetStatistics()}");
        await all;
        Assert.Equal(0, doubleUse);
        Assert.Equal(0, pool.GetStatistics().Waiting);
        Assert.Equal(0, pool.GetStatistics().Leased);
        pool.AssertInvariantsQuiescent();
        await pool.DisposeAsync();
        Assert.Equal(0, policy.Alive);
    }

    private static ConnectionPool<FakeResource> Create(bool synchronous, int maxSize) =>
        new(new NoResetPolicy(), new ConnectionPoolOptions
        {
            Name = "inline",
            MaxSize = maxSize,
            AcquireTimeout = Timeout.InfiniteTimeSpan,
            AllowSynchronousContinuations = synchronous,
        });

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(1, timeout.Token);
        }
    }
}
