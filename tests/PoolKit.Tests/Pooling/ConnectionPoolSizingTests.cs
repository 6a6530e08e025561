using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary>Runtime control: <see cref="ConnectionPool{T}.Resize"/>, <see cref="ConnectionPool{T}.Pause"/> and <see cref="ConnectionPool{T}.Resume"/>.</summary>
public sealed class ConnectionPoolSizingTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(0, 0, "maxSize", "MaxSize = 0: must be between 1 and 65536")]
    [InlineData(0, 65_537, "maxSize", "MaxSize = 65537: must be between 1 and 65536")]
    [InlineData(5, 4, "minSize", "MinSize = 5: must be between 0 and MaxSize (4)")]
    [InlineData(-1, 4, "minSize", "MinSize = -1: must be between 0 and MaxSize (4)")]
    public async Task Resize_InvalidSize_ThrowsNamingOptionValueAndRuleAndChangesNothing(int min, int max, string parameter, string message)
    {
        await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 3);

        ArgumentOutOfRangeException ex = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Resize(min, max));

        Assert.Equal(parameter, ex.ParamName);
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.Equal(3, pool.GetStatistics().MaxSize);
        Assert.Equal(0, pool.GetStatistics().MinSize);
    }

    [Fact]
    public async Task Resize_Grown_WaitersAreServedByNewCreationsAtOnce()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        using PoolLease<FakeResource> a = await pool.AcquireAsync();
        using PoolLease<FakeResource> b = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> w1 = pool.AcquireAsync().AsTask();
        Task<PoolLease<FakeResource>> w2 = pool.AcquireAsync().AsTask();
        Assert.False(w1.IsCompleted);

        pool.Resize(0, 4);

        using PoolLease<FakeResource> c = await w1.WaitAsync(s_testTimeout);
        using PoolLease<FakeResource> d = await w2.WaitAsync(s_testTimeout);
        Assert.Equal(4, policy.Created);
        PoolStatistics s = pool.GetStatistics();
        Assert.Equal(4, s.MaxSize);
        Assert.Equal(4, s.Leased);
        Assert.Equal(4, pool.Options.MaxSize);
    }

    [Fact]
    public async Task Resize_GrownBeyondTheInitialSlotArray_EverySlotIsUsableAndSeen()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 1);
        pool.Resize(0, 40);

        var leases = new List<PoolLease<FakeResource>>();
        for (int i = 0; i < 40; i++)
        {
            leases.Add(await pool.AcquireAsync());
        }

        Assert.Equal(40, leases.Select(l => l.Resource.Id).Distinct().Count());
        Assert.Equal(40, pool.GetStatistics().Leased);
        Assert.False(pool.TryAcquire(out _));
        foreach (PoolLease<FakeResource> lease in leases)
        {
            lease.Dispose();
        }

        Assert.Equal(40, pool.GetStatistics().Idle);
        pool.AssertInvariantsQuiescent();
        await pool.DisposeAsync();
        Assert.Equal(0, policy.Alive);
    }

    [Fact]
    public async Task Resize_ShrunkBelowLive_IdleDestroyedAtOnceLeasedOnlyWhenReturned()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 4);
        PoolLease<FakeResource>[] leases = [await pool.AcquireAsync(), await pool.AcquireAsync(), await pool.AcquireAsync(), await pool.AcquireAsync()];
        FakeResource[] resources = leases.Select(l => l.Resource).ToArray();
        leases[0].Dispose();

        pool.Resize(0, 2);

        // The idle one goes at once; nothing is taken from a lessee.
        Assert.True(resources[0].Destroyed);
        Assert.All(resources[1..], r => Assert.False(r.Destroyed));
        Assert.Equal(3, pool.GetStatistics().Live);

        leases[1].Dispose();
        Assert.True(resources[1].Destroyed);
        Assert.Equal(2, pool.GetStatistics().Live);

        leases[2].Dispose();
        Assert.False(resources[2].Destroyed);
        PoolStatistics s = pool.GetStatistics();
        Assert.Equal(2, s.Live);
        Assert.Equal(1, s.Idle);
        Assert.Equal(2, s.DestroyedBy.Resized);
        Assert.Equal(2, policy.Alive);
        leases[3].Dispose();
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task Resize_ShrunkWithAWaiter_TheExcessIsDestroyedNotHandedOffAndNothingIsCreated()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 3);
        PoolLease<FakeResource>[] leases = [await pool.AcquireAsync(), await pool.AcquireAsync(), await pool.AcquireAsync()];
        FakeResource[] resources = leases.Select(l => l.Resource).ToArray();
        Task<PoolLease<FakeResource>> waiter = pool.AcquireAsync().AsTask();

        pool.Resize(0, 2);
        leases[0].Dispose();

        Assert.True(resources[0].Destroyed);
        Assert.False(waiter.IsCompleted);
        Assert.Equal(3, policy.Created);

        leases[1].Dispose();
        using PoolLease<FakeResource> served = await waiter.WaitAsync(s_testTimeout);
        Assert.Same(resources[1], served.Resource);
        Assert.Equal(3, policy.Created);
        leases[2].Dispose();
    }

    [Fact]
    public async Task Resize_MinSizeRaised_WarmsUpInTheBackground()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 4);

        pool.Resize(3, 4);

        Assert.True(SpinWait.SpinUntil(() => pool.GetStatistics().Idle == 3, s_testTimeout), pool.GetStatistics().ToString());
        Assert.Equal(3, pool.GetStatistics().MinSize);
        Assert.Equal(3, policy.Created);
    }

    [Fact]
    public async Task Pause_AcquirerQueuesAndFailsByItsDeadlineNamingThePause()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.MaxSize = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
        });
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        first.Dispose();

        pool.Pause();

        Assert.True(pool.IsPaused);
        Assert.True(pool.GetStatistics().IsPaused);
        Assert.False(pool.TryAcquire(out _));
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, pool.GetStatistics().Idle);
        Assert.Equal(1, policy.Created);

        time.Advance(TimeSpan.FromSeconds(1.1));

        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting.WaitAsync(s_testTimeout));
        Assert.Equal(PoolExhaustedReason.Timeout, ex.Reason);
        Assert.Contains("the pool is paused (Pause)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, policy.Created);
    }

    [Fact]
    public async Task Pause_LeasesFinishAndReturnIdle_ResumeServesWaitersInArrivalOrder()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        FakeResource first = held.Resource;

        pool.Pause();
        Task<PoolLease<FakeResource>> w1 = pool.AcquireAsync().AsTask();
        Task<PoolLease<FakeResource>> w2 = pool.AcquireAsync().AsTask();
        Task<PoolLease<FakeResource>> w3 = pool.AcquireAsync().AsTask();
        held.Dispose();

        PoolStatistics paused = pool.GetStatistics();
        Assert.Equal(1, paused.Idle);
        Assert.Equal(3, paused.Waiting);
        Assert.Equal(1, policy.Created);
        Assert.False(w1.IsCompleted);

        pool.Resume();

        PoolLease<FakeResource> l1 = await w1.WaitAsync(s_testTimeout);
        using PoolLease<FakeResource> l2 = await w2.WaitAsync(s_testTimeout);
        Assert.Same(first, l1.Resource);
        Assert.Equal(2, policy.Created);
        Assert.False(w3.IsCompleted);
        Assert.False(pool.IsPaused);

        l1.Dispose();
        using PoolLease<FakeResource> l3 = await w3.WaitAsync(s_testTimeout);
        Assert.Same(first, l3.Resource);
    }

    [Fact]
    public async Task PauseResume_Idempotent_AndDisposedPoolThrows()
    {
        var pool = PoolFactory.Create(out _, out _);
        pool.Resume();
        pool.Pause();
        pool.Pause();
        Assert.True(pool.IsPaused);
        pool.Resume();
        pool.Resume();
        Assert.False(pool.IsPaused);
        using (PoolLease<FakeResource> lease = await pool.AcquireAsync())
        {
            Assert.NotNull(lease.Resource);
        }

        await pool.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(pool.Pause);
        Assert.Throws<ObjectDisposedException>(() => pool.Resize(0, 2));
    }
}
