using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary>
/// Who gets a resource, and when the pool creates one: no surplus creation while a reset is in flight (issue 14,
/// item 1), waiters take whatever reaches them first (item 2), the one gate on every hand-out and no barging (issue 13).
/// </summary>
public sealed class ConnectionPoolHandOffTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A policy whose resets complete only when the test says so (one TaskCompletionSource per reset).</summary>
    private sealed class LateResetPolicy : ResourcePolicy<FakeResource>
    {
        private int _created;

        public System.Collections.Concurrent.ConcurrentQueue<TaskCompletionSource<bool>> Resets { get; } = new();

        public int Created => Volatile.Read(ref _created);

        public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) =>
            new(new FakeResource(Interlocked.Increment(ref _created)));

        public override ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            Resets.Enqueue(done);
            return new ValueTask<bool>(done.Task);
        }

        public void CompleteNextReset()
        {
            Assert.True(Resets.TryDequeue(out TaskCompletionSource<bool>? reset), "a reset is in flight");
            reset!.SetResult(true);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SequentialAcquireAndDispose_ResetStillRunning_WaitsForItInsteadOfCreating(bool disposeAsync)
    {
        var policy = new LateResetPolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 8, DisposeTimeout = TimeSpan.Zero });

        for (int i = 0; i < 10; i++)
        {
            Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
            if (i > 0)
            {
                // The previous lease's reset is still running: this acquirer waits for it rather than creating.
                Assert.False(acquire.IsCompleted, $"cycle {i}: acquired without waiting for the reset in flight");
                policy.CompleteNextReset();
            }

            PoolLease<FakeResource> lease = await acquire.WaitAsync(s_testTimeout);
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

        Assert.Equal(1, policy.Created);
        Assert.Equal(1, pool.GetStatistics().Returning);
        policy.CompleteNextReset();
    }

    [Fact]
    public async Task ConcurrentCallers_ResetsCompleteLater_NeverCreateMoreThanTheCallers()
    {
        const int callers = 4;
        var policy = new FakePolicy { ResetGate = async () => await Task.Delay(1) };
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 32, MaxConcurrentCreations = 32 });

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        Task[] workers = Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await using PoolLease<FakeResource> lease = await pool.AcquireAsync();
                await Task.Yield();
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(s_testTimeout);

        Assert.InRange(policy.Created, 1, callers);
    }

    [Fact]
    public async Task ShortSpike_CreationsSlowerThanLeases_EveryWaiterIsServedByAReturnAndTheCreationsGoIdle()
    {
        // Issue 14 item 2: creations take long (here: until the test lets them finish), leases are short. Nobody may
        // wait for "its own" creation while leases come back; the creations then simply go idle.
        var policy = new FakePolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MinSize = 5, MaxSize = 10, MaxConcurrentCreations = 2 });
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().Idle == 5);
        var creationsMayFinish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.CreateGate = _ => creationsMayFinish.Task;

        Task[] tasks = Enumerable.Range(0, 50).Select(_ => Task.Run(async () =>
        {
            await using PoolLease<FakeResource> lease = await pool.AcquireAsync();
            await Task.Delay(2);
        })).ToArray();

        // Every task finishes while the creations it caused are still blocked: nobody waited for one.
        await Task.WhenAll(tasks).WaitAsync(s_testTimeout);
        int started = policy.CreateAttempts - 5;
        Assert.InRange(started, 0, 2);
        Assert.Equal(started, pool.GetStatistics().Creating);

        creationsMayFinish.SetResult();
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().Creating == 0);
        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(5 + started, stats.Idle);
        Assert.InRange(stats.Live, 5, 7);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task Waiter_CreationInFlightAndALeaseReturnedFirst_TakesTheReturnedOne()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.CreateGate = _ => gate.Task;

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        Assert.Equal(1, pool.GetStatistics().Creating);
        held.Dispose();

        using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.Equal(1, lease.Resource.Id);
        gate.SetResult();
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().Idle == 1);
    }

    /// <summary>README's SocketPolicy shape: IsUsable overridden, the default (no-op) reset kept.</summary>
    private sealed class SocketLikePolicy : ResourcePolicy<FakeResource>
    {
        private int _created;

        public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) =>
            new(new FakeResource(Interlocked.Increment(ref _created)));

        public override bool IsUsable(FakeResource resource) => !resource.Unusable;
    }

    [Fact]
    public async Task HandOffToAWaiter_ResourceNoLongerUsable_IsDestroyedAndTheWaiterGetsAUsableOne()
    {
        // Issue 13, defect 1: the hand-off path skipped IsUsable.
        await using var pool = new ConnectionPool<FakeResource>(new SocketLikePolicy(), new ConnectionPoolOptions { MaxSize = 1 });
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();

        held.Resource.Unusable = true; // the socket was closed under the holder's feet
        held.Dispose();

        using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.False(lease.Resource.Unusable, "a waiter was handed a resource that fails IsUsable");
        Assert.Equal(1, pool.GetStatistics().DestroyedBy.Unusable);
    }

    [Fact]
    public async Task ClearAsync_DuringAnAsynchronousReset_TheClearedResourceIsNotHandedToAWaiter()
    {
        // Issue 13, defect 2: the stale check ran before the reset; after it the cleared resource went to a waiter.
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 1);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.ResetGate = () => resetGate.Task;
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        FakeResource old = held.Resource;
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();

        held.Dispose();
        await pool.ClearAsync();
        resetGate.SetResult();

        using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.NotSame(old, lease.Resource);
        Assert.True(old.Destroyed);
        Assert.Equal(1, pool.GetStatistics().DestroyedBy.Cleared);
    }

    [Fact]
    public async Task CapacityFreedWhileSomebodyWaits_ANewcomerDoesNotOvertakeTheWaiter()
    {
        // Issue 13, defect 5: the head waiter was dequeued to re-check before it ran, and a newcomer that saw nobody
        // waiting created with the freed capacity.
        for (int run = 0; run < 20; run++)
        {
            await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
            PoolLease<FakeResource> held = await pool.AcquireAsync();
            Task<PoolLease<FakeResource>> first = pool.AcquireAsync().AsTask();

            held.MarkBrokenAndDispose(); // the slot empties: capacity frees up while `first` waits
            ValueTask<PoolLease<FakeResource>> newcomer = pool.AcquireAsync();

            Assert.False(newcomer.IsCompleted, $"run {run}: a newcomer took the capacity a waiter was owed");
            (await first.WaitAsync(s_testTimeout)).Dispose();
            (await newcomer.AsTask().WaitAsync(s_testTimeout)).Dispose();
        }
    }

    [Fact]
    public async Task AcquireAsync_CreationIgnoresItsToken_CallerFailsAtItsOwnDeadlineAndTheCreationGoesIdle()
    {
        // Issue 13, defect 6: a creation that ignored its token made AcquireAsync return a lease late (after the
        // creation's 1.5 s instead of at 25 ms; the bound leaves room for a loaded machine and a cold start).
        var policy = new FakePolicy { CreateGate = _ => Task.Delay(1500, CancellationToken.None) };
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 2 });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(25));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pool.AcquireAsync(cts.Token).AsTask().WaitAsync(s_testTimeout));

        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(1000), $"the caller failed only after {clock.Elapsed.TotalMilliseconds:0} ms");
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().Idle == 1);
    }

    [Fact]
    public async Task AcquireTimeout_CreationIgnoresItsToken_CallerFailsAtTheTimeout()
    {
        var policy = new FakePolicy { CreateGate = _ => Task.Delay(1500, CancellationToken.None) };
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 2, AcquireTimeout = TimeSpan.FromMilliseconds(25) });
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<Exception>(() => pool.AcquireAsync().AsTask().WaitAsync(s_testTimeout));

        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(1000), $"the caller failed only after {clock.Elapsed.TotalMilliseconds:0} ms");
    }
    [Fact]
    public async Task ResetFails_WaiterHeldBackByIt_GetsANewResource()
    {
        // A waiter that did not create because a reset was in flight must not be forgotten when the reset fails.
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.ResetGate = () => resetGate.Task;
        policy.ResetResult = false;
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        held.Dispose();

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, policy.Created);
        resetGate.SetResult();

        using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.Equal(2, lease.Resource.Id);
    }
}
