using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <content>Leases (idempotent disposal, strict return, foreign leases), deadlines and cancellation.</content>
public abstract partial class ConnectionPoolContract
{
    [Fact]
    public async Task Dispose_Twice_IsIdempotentAndTheLeaseIsDead()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;

        lease.Dispose();
        lease.Dispose();
        await lease.DisposeAsync();

        Assert.False(lease.IsActive);
        LeaseAlreadyReturnedException ex = Assert.Throws<LeaseAlreadyReturnedException>(() => lease.Resource);
        Assert.Equal("contract", ex.PoolName);
        Assert.Throws<LeaseAlreadyReturnedException>(lease.MarkBroken);
        Assert.Throws<LeaseAlreadyReturnedException>(lease.MarkClosedByCaller);
        await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(0, ledger.Destroyed);
        Assert.Equal(1, pool.GetStatistics().TotalAcquires);

        // Returned once: it is idle once, and leased again whole.
        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> again));
        Assert.Same(resource, again.Resource);
        Assert.False(pool.TryAcquire(out _));
        await pool.ReturnAsync(again);
    }

    [Fact]
    public async Task Dispose_StaleCopyAfterTheSlotWasLeasedAgain_DoesNotTouchTheNewLease()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        PoolLease<FakeResource> copy = first;
        first.Dispose();
        PoolLease<FakeResource> second = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);

        copy.Dispose();

        Assert.True(second.IsActive);
        Assert.Equal(1, pool.GetStatistics().Leased);
        Assert.False(pool.TryAcquire(out _));
        await Assert.ThrowsAsync<LeaseAlreadyReturnedException>(() => pool.ReturnAsync(copy).AsTask());
        Assert.True(second.IsActive);
        second.Dispose();
        await SettledAsync(pool, ledger, idle: 1);
        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> third));
        Assert.Equal(1, ledger.Created);
        await pool.ReturnAsync(third);
    }

    [Fact]
    public async Task Dispose_ConcurrentDisposalsOfCopies_ReturnTheLeaseExactlyOnce()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 1);
        for (int i = 0; i < 300; i++)
        {
            PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);
            PoolLease<FakeResource> copy = lease;
            using var start = new Barrier(2);

            // A thread of its own: a blocked thread-pool thread would wait for the pool to inject another.
            var other = new Thread(() =>
            {
                start.SignalAndWait(TestTimeout);
                copy.Dispose();
            });
            other.Start();
            Assert.True(start.SignalAndWait(TestTimeout), $"round {i}: the other disposer did not start");
            lease.Dispose();
            Assert.True(other.Join(TestTimeout), $"round {i}: the other disposal did not end");
            await WaitForAsync(() => pool.GetStatistics().Idle == 1, () => $"round {i}: the resource did not come back: {pool.GetStatistics()}");

            // Exactly one return took effect: one lease can be taken, a second cannot.
            Assert.True(pool.TryAcquire(out PoolLease<FakeResource> again), $"round {i}: the resource was lost");
            Assert.False(pool.TryAcquire(out _), $"round {i}: the resource was published twice");
            await pool.ReturnAsync(again);
        }

        Assert.Equal(1, ledger.Created);
        await SettledAsync(pool, ledger, idle: 1);
    }

    [Fact]
    public async Task ReturnAsync_Twice_ThrowsLeaseAlreadyReturnedAndThePoolStaysIntact()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        PoolLease<FakeResource> disposed = await pool.AcquireAsync();

        await pool.ReturnAsync(lease).AsTask().WaitAsync(TestTimeout);
        disposed.Dispose();

        await Assert.ThrowsAsync<LeaseAlreadyReturnedException>(() => pool.ReturnAsync(lease).AsTask());
        await Assert.ThrowsAsync<LeaseAlreadyReturnedException>(() => pool.ReturnAsync(disposed).AsTask());
        await SettledAsync(pool, ledger, idle: 2);
        Assert.Equal(0, ledger.Destroyed);
    }

    [Fact]
    public async Task ReturnAsync_LeaseOfAnotherPoolOrDefaultLease_ThrowsForeignLeaseAndNeitherPoolChanges()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        await using ConnectionPool<FakeResource> other = CreatePool(out ResourceLedger otherLedger, out _, o => o.Name = "other");
        PoolLease<FakeResource> lease = await other.AcquireAsync();

        ForeignLeaseException ex = await Assert.ThrowsAsync<ForeignLeaseException>(() => pool.ReturnAsync(lease).AsTask());
        await Assert.ThrowsAsync<ForeignLeaseException>(() => pool.ReturnAsync(default).AsTask());

        Assert.Equal("other", ex.LeasePoolName);
        Assert.True(lease.IsActive);
        Assert.Equal(1, other.GetStatistics().Leased);
        Assert.Equal(0, pool.GetStatistics().Live);
        Assert.Equal(0, ledger.Created);
        await other.ReturnAsync(lease);
        await SettledAsync(other, otherLedger, idle: 1);
    }

    [Fact]
    public async Task AcquireTimeout_NothingReturned_FailsAtTheDeadlineAndNotBefore()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out FakeTimeProvider time, o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(3);
        });
        PoolLease<FakeResource> held = await pool.AcquireAsync();

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(2.9));
        Assert.False(waiting.IsCompleted, "the acquire failed before its deadline");
        time.Advance(TimeSpan.FromSeconds(0.1));

        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting.WaitAsync(TestTimeout));
        Assert.Equal(PoolExhaustedReason.Timeout, ex.Reason);
        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.Waiting);
        Assert.Equal(1, stats.TotalTimeouts);
        Assert.Equal(1, stats.TotalAcquiresWaited);

        // The resource the waiter did not get is not lost.
        await pool.ReturnAsync(held);
        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> lease));
        Assert.Equal(1, ledger.Created);
        await pool.ReturnAsync(lease);
        await SettledAsync(pool, ledger, idle: 1);
    }

    [Fact]
    public async Task AcquireAsync_CanceledWhileWaiting_FailsAtOnceAndLeavesNoTrace()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        using var cts = new CancellationTokenSource();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync(cts.Token).AsTask();
        Assert.Equal(1, pool.GetStatistics().Waiting);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TestTimeout));
        Assert.Equal(0, pool.GetStatistics().Waiting);
        Assert.Equal(1, pool.GetStatistics().TotalAcquiresCanceled);
        held.Dispose();
        await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(1, ledger.Created);
        Assert.Equal(1, pool.GetStatistics().TotalAcquires);
    }

    [Fact]
    public async Task AcquireAsync_TokenAlreadyCanceled_IsCanceledWithoutTouchingThePool()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);

        ValueTask<PoolLease<FakeResource>> result = pool.AcquireAsync(new CancellationToken(canceled: true));

        Assert.True(result.IsCanceled);
        Assert.Equal(0, ledger.Created);
        Assert.Equal(0, pool.GetStatistics().Live);
    }

    [Fact]
    public async Task AcquireAsync_WaitQueueFull_IsRejectedAtOnceAndTheWaiterKeepsItsPlace()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o =>
        {
            o.MaxSize = 1;
            o.MaxWaiters = 1;
        });
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> first = pool.AcquireAsync().AsTask();

        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(() => pool.AcquireAsync().AsTask());

        Assert.Equal(PoolExhaustedReason.WaitQueueFull, ex.Reason);
        Assert.Equal(1, ex.MaxWaiters);
        Assert.Contains("wait queue is full (MaxWaiters)", ex.Message, StringComparison.Ordinal);
        Assert.False(first.IsCompleted);
        Assert.Equal(1, pool.GetStatistics().Waiting);
        Assert.Equal(1, pool.GetStatistics().TotalAcquiresRejected);
        held.Dispose();
        await pool.ReturnAsync(await first.WaitAsync(TestTimeout));
        await SettledAsync(pool, ledger, idle: 1);
    }
}
