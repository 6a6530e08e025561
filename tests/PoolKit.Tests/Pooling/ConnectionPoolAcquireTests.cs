using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class ConnectionPoolAcquireTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AcquireAsync_EmptyPool_CreatesOneResource()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);

        await using PoolLease<FakeResource> lease = await pool.AcquireAsync();

        Assert.Equal(1, lease.Resource.Id);
        Assert.Equal(1, policy.Created);
        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.Leased);
        Assert.Equal(0, stats.Idle);
    }

    [Fact]
    public async Task AcquireAsync_IdleResource_CompletesSynchronouslyWithTheSameResource()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        FakeResource resource = first.Resource;
        first.Dispose();

        ValueTask<PoolLease<FakeResource>> second = pool.AcquireAsync();

        Assert.True(second.IsCompletedSuccessfully);
        using PoolLease<FakeResource> lease = second.Result;
        Assert.Same(resource, lease.Resource);
        Assert.Equal(1, policy.Created);
        Assert.Equal(1, resource.ResetCount);
    }

    [Fact]
    public async Task AcquireAsync_PoolAtMaxSize_WaitsAndGetsTheReturnedResourceHandedOff()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        FakeResource resource = held.Resource;

        ValueTask<PoolLease<FakeResource>> waiting = pool.AcquireAsync();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, pool.GetStatistics().Waiting);

        held.Dispose();
        using PoolLease<FakeResource> handed = await waiting.AsTask().WaitAsync(s_testTimeout);

        Assert.Same(resource, handed.Resource);
        Assert.Equal(1, policy.Created);
        Assert.Equal(0, pool.GetStatistics().Waiting);
        Assert.Equal(0, pool.GetStatistics().Idle);
    }

    [Fact]
    public async Task AcquireAsync_SeveralWaiters_AreServedInArrivalOrder()
    {
        await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        var order = new List<int>();
        var waiters = Enumerable.Range(0, 5).Select(i => pool.AcquireAsync().AsTask()).ToArray();

        PoolLease<FakeResource> current = held;
        for (int i = 0; i < waiters.Length; i++)
        {
            current.Dispose();
            Task<PoolLease<FakeResource>> done = await Task.WhenAny(waiters.Where(w => !order.Contains(Array.IndexOf(waiters, w)))).WaitAsync(s_testTimeout);
            order.Add(Array.IndexOf(waiters, done));
            current = await done;

            // Nobody else may have been served by this one return.
            Assert.Equal(1, waiters.Count(w => w.IsCompletedSuccessfully) - i);
        }

        current.Dispose();
        Assert.Equal([0, 1, 2, 3, 4], order);
    }

    [Fact]
    public async Task AcquireAsync_NewArrivalWhileOthersWait_DoesNotBarge()
    {
        await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> first = pool.AcquireAsync().AsTask();

        held.Dispose();
        Assert.False(pool.TryAcquire(out _) && !first.IsCompleted, "a newcomer took the resource a waiter was owed");
        using PoolLease<FakeResource> lease = await first.WaitAsync(s_testTimeout);
        Assert.True(lease.IsActive);
    }

    [Fact]
    public async Task AcquireAsync_NothingReturnedWithinTimeout_ThrowsPoolExhaustedNamingTheSettingAndCounts()
    {
        await using var pool = PoolFactory.Create(out _, out var time, o =>
        {
            o.MaxSize = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(3);
        });
        using PoolLease<FakeResource> a = await pool.AcquireAsync();
        using PoolLease<FakeResource> b = await pool.AcquireAsync();

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.2));

        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting.WaitAsync(s_testTimeout));
        Assert.Equal(PoolExhaustedReason.Timeout, ex.Reason);
        Assert.Contains("AcquireTimeout = 3000 ms", ex.Message, StringComparison.Ordinal);
        Assert.Contains("raise MaxSize (now 2)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("leased 2, idle 0, creating 0", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, ex.LongestHeldLeases.Count);
        Assert.Equal(TimeSpan.FromSeconds(3.1), ex.LongestHeldLeases[0].HeldFor);
        Assert.IsNotAssignableFrom<TimeoutException>(ex);
        Assert.Equal(0, pool.GetStatistics().Waiting);
        Assert.Equal(1, pool.GetStatistics().TotalTimeouts);
    }

    [Fact]
    public async Task AcquireAsync_WaitQueueFull_FailsAtOnce()
    {
        await using var pool = PoolFactory.Create(out _, out _, o =>
        {
            o.MaxSize = 1;
            o.MaxWaiters = 1;
        });
        using PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> first = pool.AcquireAsync().AsTask();

        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(() => pool.AcquireAsync().AsTask());

        Assert.Equal(PoolExhaustedReason.WaitQueueFull, ex.Reason);
        Assert.Contains("MaxWaiters = 1", ex.Message, StringComparison.Ordinal);
        Assert.False(first.IsCompleted);
        Assert.Equal(1, pool.GetStatistics().Waiting);
    }

    [Fact]
    public async Task AcquireAsync_CanceledWhileWaiting_LeavesTheQueueAndGetsNothing()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        using var cts = new CancellationTokenSource();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync(cts.Token).AsTask();
        Assert.Equal(1, pool.GetStatistics().Waiting);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(s_testTimeout));
        Assert.Equal(0, pool.GetStatistics().Waiting);
        held.Dispose();
        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(1, stats.Idle);
        Assert.Equal(0, stats.Leased);
        Assert.Equal(1, policy.Created);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task AcquireAsync_TokenAlreadyCanceled_ReturnsCanceledTaskWithoutTouchingThePool()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);

        ValueTask<PoolLease<FakeResource>> result = pool.AcquireAsync(new CancellationToken(canceled: true));

        Assert.True(result.IsCanceled);
        Assert.Equal(0, policy.CreateAttempts);
    }

    [Fact]
    public async Task TryAcquire_NoIdleResource_ReturnsFalseWithoutCreating()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);

        Assert.False(pool.TryAcquire(out PoolLease<FakeResource> lease));
        Assert.False(lease.IsActive);
        Assert.Equal(0, policy.CreateAttempts);
    }

    [Fact]
    public async Task TryAcquire_FreshIdleResource_LeasesIt()
    {
        await using var pool = PoolFactory.Create(out _, out _);
        (await pool.AcquireAsync()).Dispose();

        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> lease));
        Assert.True(lease.IsActive);
        lease.Dispose();
    }

    [Fact]
    public async Task TryAcquire_StaleResourceValidatedSynchronously_IsHandedOut()
    {
        await using var pool = PoolFactory.Create(out _, out var time);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        FakeResource resource = first.Resource;
        first.Dispose();
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> lease));
        Assert.Same(resource, lease.Resource);
        Assert.Equal(1, resource.ValidateCount);
        lease.Dispose();
    }

    [Fact]
    public async Task TryAcquire_StaleResourceFailsValidation_IsDestroyedAndNothingIsHandedOut()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        FakeResource resource = first.Resource;
        first.Dispose();
        resource.Invalid = true;
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(pool.TryAcquire(out _));
        Assert.True(resource.Destroyed);
        Assert.Equal(0, pool.GetStatistics().Live);
        Assert.Equal(1, policy.Created);
    }

    [Fact]
    public async Task AcquireAsync_ManyLeases_NeverExceedMaxSizeAndAllDistinct()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 8);
        var leases = new List<PoolLease<FakeResource>>();
        for (int i = 0; i < 8; i++)
        {
            leases.Add(await pool.AcquireAsync());
        }

        Assert.Equal(8, leases.Select(l => l.Resource).Distinct().Count());
        Task<PoolLease<FakeResource>> ninth = pool.AcquireAsync().AsTask();
        Assert.False(ninth.IsCompleted);
        Assert.Equal(8, policy.Created);
        foreach (PoolLease<FakeResource> lease in leases)
        {
            lease.Dispose();
        }

        (await ninth.WaitAsync(s_testTimeout)).Dispose();
        Assert.Equal(8, policy.Created);
    }
}
