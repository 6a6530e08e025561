using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary>Shedding (<see cref="ConnectionPoolOptions.QueueTimeTarget"/>): estimated-too-long acquires fail at once, the rest queue.</summary>
public sealed class ConnectionPoolSheddingTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_serviceInterval = TimeSpan.FromMilliseconds(100);

    [Fact]
    public async Task AcquireAsync_EstimatedWaitBeyondTarget_ShedAtOnceAndCounted_FittingOnesQueueAndAreServed()
    {
        await using var pool = PoolFactory.Create(out _, out FakeTimeProvider time, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(10);
            o.QueueTimeTarget = TimeSpan.FromMilliseconds(250);
        });
        (PoolLease<FakeResource> current, Task<PoolLease<FakeResource>> last) = await BuildHistoryAsync(pool, time);

        // One waiter ahead: about 2 x 100 ms, within the 250 ms target: queued.
        ValueTask<PoolLease<FakeResource>> fits = pool.AcquireAsync();
        Assert.False(fits.IsCompleted);

        // Two ahead: about 300 ms: shed at once, without waiting.
        ValueTask<PoolLease<FakeResource>> shed = pool.AcquireAsync();
        Assert.True(shed.IsCompleted);
        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(async () => await shed);
        Assert.Equal(PoolExhaustedReason.Shed, ex.Reason);
        Assert.Equal(TimeSpan.Zero, ex.Waited);
        Assert.Equal(TimeSpan.FromMilliseconds(300), ex.EstimatedWait);
        Assert.Contains("would wait longer than QueueTimeTarget", ex.Message, StringComparison.Ordinal);
        PoolStatistics s = pool.GetStatistics();
        Assert.Equal(1, s.TotalAcquiresShed);
        Assert.Equal(0, s.TotalTimeouts);
        Assert.Equal(2, s.Waiting);

        // The queued ones are served.
        for (int i = 0; i < 2; i++)
        {
            time.Advance(s_serviceInterval);
            await current.DisposeAsync();
            current = i == 0 ? await last.WaitAsync(s_testTimeout) : await fits.AsTask().WaitAsync(s_testTimeout);
        }

        await current.DisposeAsync();
        Assert.Equal(1, pool.GetStatistics().TotalAcquiresShed);
    }

    [Fact]
    public async Task AcquireAsync_EstimatedWaitBeyondItsOwnDeadline_ShedNamingTheDeadline()
    {
        await using var pool = PoolFactory.Create(out _, out FakeTimeProvider time, o =>
        {
            o.MaxSize = 1;
            o.QueueTimeTarget = TimeSpan.FromSeconds(5);
        });
        (PoolLease<FakeResource> current, _) = await BuildHistoryAsync(pool, time);

        ValueTask<PoolLease<FakeResource>> shed = pool.AcquireAsync(TimeSpan.FromMilliseconds(150));

        Assert.True(shed.IsCompleted);
        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(async () => await shed);
        Assert.Equal(PoolExhaustedReason.Shed, ex.Reason);
        Assert.Equal(TimeSpan.FromMilliseconds(200), ex.EstimatedWait);
        Assert.Contains("before the acquire's deadline", ex.Message, StringComparison.Ordinal);

        // The same call with room for its estimate (200 ms) queues.
        ValueTask<PoolLease<FakeResource>> fits = pool.AcquireAsync(TimeSpan.FromMilliseconds(250));
        Assert.False(fits.IsCompleted);
        await current.DisposeAsync();
    }

    [Fact]
    public async Task Resume_TheIntervalSpanningThePauseIsNotASample_NothingShedAfterwards()
    {
        await using var pool = PoolFactory.Create(out _, out FakeTimeProvider time, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(60);
            o.QueueTimeTarget = TimeSpan.FromMilliseconds(250);
        });
        (PoolLease<FakeResource> current, Task<PoolLease<FakeResource>> last) = await BuildHistoryAsync(pool, time);

        pool.Pause();
        time.Advance(TimeSpan.FromSeconds(20));
        await current.DisposeAsync();
        pool.Resume();
        current = await last.WaitAsync(s_testTimeout);

        // Still about 100 ms per waiter served: one waiter ahead fits the 250 ms target.
        Task<PoolLease<FakeResource>> next = pool.AcquireAsync().AsTask();
        ValueTask<PoolLease<FakeResource>> fits = pool.AcquireAsync();
        Assert.False(fits.IsCompleted);
        Assert.Equal(0, pool.GetStatistics().TotalAcquiresShed);
        await current.DisposeAsync();
        await (await next.WaitAsync(s_testTimeout)).DisposeAsync();
        await (await fits.AsTask().WaitAsync(s_testTimeout)).DisposeAsync();
    }

    [Fact]
    public async Task AcquireAsync_NoHistory_NothingShedEvenWithATinyTarget()
    {
        await using var pool = PoolFactory.Create(out _, out _, o =>
        {
            o.MaxSize = 1;
            o.QueueTimeTarget = TimeSpan.FromTicks(1);
        });
        using PoolLease<FakeResource> held = await pool.AcquireAsync();

        var waiting = Enumerable.Range(0, 20).Select(_ => pool.AcquireAsync()).ToList();

        Assert.All(waiting, w => Assert.False(w.IsCompleted));
        Assert.Equal(20, pool.GetStatistics().Waiting);
        Assert.Equal(0, pool.GetStatistics().TotalAcquiresShed);
    }

    [Fact]
    public async Task AcquireAsync_SheddingOff_QueuesWhateverTheHistory()
    {
        await using var pool = PoolFactory.Create(out _, out FakeTimeProvider time, o => o.MaxSize = 1);
        (PoolLease<FakeResource> current, _) = await BuildHistoryAsync(pool, time);

        var waiting = Enumerable.Range(0, 20).Select(_ => pool.AcquireAsync()).ToList();

        Assert.All(waiting, w => Assert.False(w.IsCompleted));
        Assert.Equal(0, pool.GetStatistics().TotalAcquiresShed);
        await current.DisposeAsync();
    }

    [Fact]
    public void Options_QueueTimeTargetNotPositive_ThrowsNamingOptionValueAndRule()
    {
        var options = new ConnectionPoolOptions { QueueTimeTarget = TimeSpan.Zero };

        ConnectionPoolOptionsException ex = Assert.Throws<ConnectionPoolOptionsException>(() => new ConnectionPool<FakeResource>(new FakePolicy(), options));

        Assert.Contains("QueueTimeTarget = 00:00:00: must be positive, or null for no shedding", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Ten waiters queue behind one lease; nine are served 100 ms apart (eight busy intervals: the estimator's
    /// minimum), so the pool serves one every 100 ms and one waiter is left in the queue. Returns the lease held and that waiter.
    /// </summary>
    private static async Task<(PoolLease<FakeResource> Held, Task<PoolLease<FakeResource>> LastWaiter)> BuildHistoryAsync(ConnectionPool<FakeResource> pool, FakeTimeProvider time)
    {
        PoolLease<FakeResource> current = await pool.AcquireAsync();
        var waiters = Enumerable.Range(0, 10).Select(_ => pool.AcquireAsync().AsTask()).ToList();
        Assert.All(waiters, w => Assert.False(w.IsCompleted));
        for (int i = 0; i < 9; i++)
        {
            time.Advance(s_serviceInterval);
            await current.DisposeAsync();
            current = await waiters[i].WaitAsync(s_testTimeout);
        }

        Assert.Equal(1, pool.GetStatistics().Waiting);
        Assert.Equal(0, pool.GetStatistics().TotalAcquiresShed);
        return (current, waiters[9]);
    }

}
