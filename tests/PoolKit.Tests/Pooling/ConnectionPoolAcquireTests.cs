using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class ConnectionPoolAcquireTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AcquireAsync_NothingReturnedWithinTimeout_ThrowsPoolExhaustedNamingTheSetting_CountsInProperties()
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
        Assert.Equal(TimeSpan.FromSeconds(3), ex.AcquireTimeout);
        Assert.Equal(TimeSpan.FromSeconds(3.1), ex.Waited);
        Assert.Equal((2, 0, 0, 2), (ex.Statistics.Leased, ex.Statistics.Idle, ex.Statistics.Creating, ex.Statistics.MaxSize));
        Assert.Equal(
            $"Pool '{pool.Name}' could not provide a resource within the acquire timeout: all resources are in use. Raise MaxSize or AcquireTimeout, or return leases sooner (LongestHeldLeases says which are held; set LeakDetectionThreshold to see where they were acquired).",
            ex.Message);
        Assert.Equal(2, ex.LongestHeldLeases.Count);
        Assert.Equal(TimeSpan.FromSeconds(3.1), ex.LongestHeldLeases[0].HeldFor);
        Assert.IsNotAssignableFrom<TimeoutException>(ex);
        Assert.Equal(0, pool.GetStatistics().Waiting);
        Assert.Equal(1, pool.GetStatistics().TotalTimeouts);
    }

    [Fact]
    public async Task AcquireAsync_TimeoutsWithDifferentWaitsAndCounts_HaveOneMessage()
    {
        await using var pool = PoolFactory.Create(out _, out var time, o =>
        {
            o.MaxSize = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(3);
        });
        using PoolLease<FakeResource> a = await pool.AcquireAsync();
        using PoolLease<FakeResource> b = await pool.AcquireAsync();

        Task<PoolLease<FakeResource>> first = pool.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(3));
        PoolExhaustedException one = await Assert.ThrowsAsync<PoolExhaustedException>(() => first.WaitAsync(s_testTimeout));

        // Another wait, two waiters at once, another timeout, leases held longer: the same condition, the same text.
        Task<PoolLease<FakeResource>> other = pool.AcquireAsync().AsTask();
        Task<PoolLease<FakeResource>> second = pool.AcquireAsync(TimeSpan.FromMilliseconds(750)).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(750));
        PoolExhaustedException two = await Assert.ThrowsAsync<PoolExhaustedException>(() => second.WaitAsync(s_testTimeout));

        Assert.NotEqual(one.Waited, two.Waited);
        Assert.NotEqual(one.Statistics.Waiting, two.Statistics.Waiting);
        Assert.Equal(one.Message, two.Message);
        time.Advance(TimeSpan.FromSeconds(3));
        await Assert.ThrowsAsync<PoolExhaustedException>(() => other.WaitAsync(s_testTimeout));
    }

    [Fact]
    public async Task AcquireAsync_WaitCanceled_ValueTaskReportsCanceled()
    {
        await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
        using PoolLease<FakeResource> held = await pool.AcquireAsync();
        using var cts = new CancellationTokenSource();

        ValueTask<PoolLease<FakeResource>> waiting = pool.AcquireAsync(cts.Token);
        Assert.False(waiting.IsCompleted);
        cts.Cancel();

        Assert.True(SpinWait.SpinUntil(() => waiting.IsCompleted, s_testTimeout));
        Assert.True(waiting.IsCanceled);
        Assert.False(waiting.IsCompletedSuccessfully);
        Assert.False(waiting.IsFaulted);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await waiting);
    }

    [Fact]
    public async Task AcquireAsync_WaitTimedOut_ValueTaskReportsFaulted()
    {
        await using var pool = PoolFactory.Create(out _, out var time, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
        });
        using PoolLease<FakeResource> held = await pool.AcquireAsync();

        ValueTask<PoolLease<FakeResource>> waiting = pool.AcquireAsync();
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.True(SpinWait.SpinUntil(() => waiting.IsCompleted, s_testTimeout));
        Assert.True(waiting.IsFaulted);
        Assert.False(waiting.IsCompletedSuccessfully);
        Assert.False(waiting.IsCanceled);
        await Assert.ThrowsAsync<PoolExhaustedException>(async () => await waiting);
    }

    [Fact]
    public async Task AcquireAsync_WaitHandedOff_ValueTaskReportsSuccess()
    {
        await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();

        ValueTask<PoolLease<FakeResource>> waiting = pool.AcquireAsync();
        held.Dispose();

        Assert.True(SpinWait.SpinUntil(() => waiting.IsCompleted, s_testTimeout));
        Assert.True(waiting.IsCompletedSuccessfully);
        using PoolLease<FakeResource> lease = await waiting;
        Assert.True(lease.IsActive);
    }

    [Fact]
    public async Task AcquireAsync_TokenAlreadyCanceled_IsCountedAsCanceled()
    {
        await using var pool = PoolFactory.Create(out _, out _);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        ValueTask<PoolLease<FakeResource>> acquire = pool.AcquireAsync(cts.Token);

        Assert.True(acquire.IsCanceled);
        Assert.Equal(1, pool.GetStatistics().TotalAcquiresCanceled);
    }

    [Fact]
    public async Task AcquireAsync_PerCallTimeoutLongerThanThePools_WaitsPastThePoolsTimeout()
    {
        await using var pool = PoolFactory.Create(out _, out var time, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
        });
        PoolLease<FakeResource> held = await pool.AcquireAsync();

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync(TimeSpan.FromSeconds(5)).AsTask();
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(waiting.IsCompleted);
        held.Dispose();

        using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.True(lease.IsActive);
        Assert.Equal(0, pool.GetStatistics().TotalTimeouts);
    }

    [Fact]
    public async Task AcquireAsync_PerCallTimeoutShorterThanThePools_FailsAtItWithTheSameErrorAndCounter()
    {
        await using var pool = PoolFactory.Create(out _, out var time, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(10);
        });
        using PoolLease<FakeResource> held = await pool.AcquireAsync();

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync(TimeSpan.FromMilliseconds(500)).AsTask();
        time.Advance(TimeSpan.FromMilliseconds(499));
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(2));

        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting.WaitAsync(s_testTimeout));
        Assert.Equal(PoolExhaustedReason.Timeout, ex.Reason);
        Assert.Equal(TimeSpan.FromMilliseconds(500), ex.AcquireTimeout);
        Assert.Equal(1, pool.GetStatistics().TotalTimeouts);
        Assert.Equal(0, pool.GetStatistics().Waiting);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public async Task AcquireAsync_PerCallTimeoutNotPositive_Throws(int milliseconds)
    {
        await using var pool = PoolFactory.Create(out _, out _);

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => pool.AcquireAsync(TimeSpan.FromMilliseconds(milliseconds)));
        Assert.Equal("timeout", ex.ParamName);
    }

    [Fact]
    public async Task AcquireAsync_PerCallTimeoutInfinite_WaitsUntilCanceled()
    {
        await using var pool = PoolFactory.Create(out _, out var time, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
        });
        using PoolLease<FakeResource> held = await pool.AcquireAsync();
        using var cts = new CancellationTokenSource();

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync(Timeout.InfiniteTimeSpan, cts.Token).AsTask();
        time.Advance(TimeSpan.FromHours(1));
        Assert.False(waiting.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(s_testTimeout));
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
}
