using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <content>The end of a resource (clear, lifetime, broken, closed by the caller), of the pool (disposal), and the statistics that count it all.</content>
public abstract partial class ConnectionPoolContract
{
    [Fact]
    public async Task ClearAsync_ResourcesIdleLeasedOrBeingReset_AreNeverHandedOutAgainAndNewOnesAreKept()
    {
        // "Destroys every idle resource now and every leased one when it is returned; resources created after the call
        // are kept." A resource whose reset runs during the clear (asynchronous shapes) counts as leased.
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> idle = await pool.AcquireAsync();
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        PoolLease<FakeResource> resetting = await pool.AcquireAsync();
        FakeResource[] before = [idle.Resource, held.Resource, resetting.Resource];
        await pool.ReturnAsync(idle);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.ResetGate = () => resetGate.Task;
        resetting.Dispose();

        await pool.ClearAsync().AsTask().WaitAsync(TestTimeout);

        Assert.True(before[0].Destroyed, "ClearAsync completed with an idle resource of the old generation alive");
        resetGate.SetResult();
        var after = new List<PoolLease<FakeResource>>();
        for (int i = 0; i < 3; i++)
        {
            after.Add(await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout));
        }

        Assert.DoesNotContain(after, l => before.Contains(l.Resource));
        Assert.False(held.Resource.Destroyed);
        held.Dispose();
        await WaitForAsync(() => before.All(r => r.Destroyed), () => $"a resource from before the clear is still alive: {pool.GetStatistics()}");
        foreach (PoolLease<FakeResource> lease in after)
        {
            await pool.ReturnAsync(lease);
        }

        PoolStatistics stats = await SettledAsync(pool, ledger, idle: 3);
        Assert.Equal(3, stats.DestroyedBy.Cleared);
        Assert.DoesNotContain(after, l => l.IsActive);
        Assert.Equal(3, ledger.Destroyed);
    }

    [Fact]
    public async Task MaxLifetime_ExpiredResources_AreDestroyedOnHandOutAndOnReturnAndNeverHandedOut()
    {
        // Maintenance is slowed to an hour, so the expiry seen here is the hand-out gate's and the return's.
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out FakeTimeProvider time, o =>
        {
            o.MaxSize = 2;
            o.MaxLifetime = TimeSpan.FromMinutes(10);
            o.MaxLifetimeJitter = TimeSpan.Zero;
            o.IdleTimeout = Timeout.InfiniteTimeSpan;
            o.MaintenanceInterval = TimeSpan.FromHours(1);
        });
        PoolLease<FakeResource> idle = await pool.AcquireAsync();
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        FakeResource idleResource = idle.Resource, heldResource = held.Resource;
        await pool.ReturnAsync(idle);

        time.Advance(TimeSpan.FromMinutes(10));
        PoolLease<FakeResource> fresh = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);
        held.Dispose();

        Assert.NotSame(idleResource, fresh.Resource);
        Assert.NotSame(heldResource, fresh.Resource);
        Assert.True(idleResource.Destroyed);
        Assert.True(heldResource.Destroyed);
        await pool.ReturnAsync(fresh);
        PoolStatistics stats = await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(2, stats.DestroyedBy.Lifetime);
        Assert.Equal(3, ledger.Created);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MarkBroken_OnReturn_TheResourceIsDestroyedNotReusedNorReset(bool returnAsync)
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;

        lease.MarkBroken();
        if (returnAsync)
        {
            await pool.ReturnAsync(lease);
        }
        else
        {
            lease.Dispose();
        }

        Assert.True(resource.Destroyed, "a broken resource survived its return");
        Assert.Equal(0, resource.ResetCount);
        PoolLease<FakeResource> next = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);
        Assert.NotSame(resource, next.Resource);
        await pool.ReturnAsync(next);
        PoolStatistics stats = await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(1, stats.DestroyedBy.Broken);
        Assert.Equal(1, stats.TotalDestroyed);
    }

    [Fact]
    public async Task MarkClosedByCaller_OnReturn_TheResourceIsDestroyedAndCountedApartFromBroken()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;

        lease.MarkClosedByCaller();
        lease.Dispose();

        Assert.True(resource.Destroyed);
        PoolStatistics stats = await SettledAsync(pool, ledger, idle: 0);
        Assert.Equal(1, stats.DestroyedBy.ClosedByCaller);
        Assert.Equal(0, stats.DestroyedBy.Broken);
    }

    [Fact]
    public async Task DisposeAsync_Waiters_FailAtOnceWithObjectDisposed()
    {
        ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();

        await pool.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(TestTimeout));
        held.Dispose();
        Assert.Equal(0, ledger.Alive);
        Assert.Equal(1, pool.GetStatistics().DestroyedBy.PoolDisposed);
    }

    [Fact]
    public async Task DisposeAsync_DestroysIdleNowAndLeasedOrResettingOnesWhenTheyComeBack()
    {
        ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> idle = await pool.AcquireAsync();
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        PoolLease<FakeResource> resetting = await pool.AcquireAsync();
        FakeResource idleResource = idle.Resource, heldResource = held.Resource;
        await pool.ReturnAsync(idle);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.ResetGate = () => resetGate.Task;
        resetting.Dispose();

        await pool.DisposeAsync();

        Assert.True(idleResource.Destroyed, "an idle resource survived disposal");
        Assert.False(heldResource.Destroyed, "a leased resource was destroyed under its holder");
        held.Dispose();
        Assert.True(heldResource.Destroyed);
        resetGate.SetResult();
        await WaitForAsync(() => ledger.Alive == 0, () => $"{ledger.Alive} resources survived disposal: {pool.GetStatistics()}");
        Assert.Equal(3, pool.GetStatistics().DestroyedBy.PoolDisposed);
        Assert.Equal(0, pool.GetStatistics().Live);
        Assert.Equal(0, ledger.DestroyedTwice);
    }

    [Fact]
    public async Task AfterDispose_EveryCallThrowsObjectDisposedAndDisposingAgainIsHarmless()
    {
        ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        await pool.ReturnAsync(await pool.AcquireAsync());

        await pool.DisposeAsync();
        await pool.DisposeAsync();
        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.AcquireAsync());
        Assert.Throws<ObjectDisposedException>(() => pool.TryAcquire(out _));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.ClearAsync().AsTask());
        Assert.Equal(1, ledger.Destroyed);
        Assert.Equal(0, ledger.DestroyedTwice);
    }

    [Fact]
    public async Task DisposeAsync_OutstandingLease_WaitsForItsReturnWithinDisposeTimeout()
    {
        ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.DisposeTimeout = TimeSpan.FromSeconds(30));
        PoolLease<FakeResource> held = await pool.AcquireAsync();

        Task disposing = pool.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted, "disposal did not wait for the outstanding lease");

        held.Dispose();
        await disposing.WaitAsync(TestTimeout);
        Assert.Equal(0, ledger.Alive);
    }

    [Fact]
    public async Task DisposeAsync_LeaseNeverReturned_GivesUpAtDisposeTimeout()
    {
        ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out FakeTimeProvider time, o => o.DisposeTimeout = TimeSpan.FromSeconds(5));
        PoolLease<FakeResource> leaked = await pool.AcquireAsync();

        Task disposing = pool.DisposeAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(disposing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(0.1));

        await disposing.WaitAsync(TestTimeout);
        leaked.Dispose();
        Assert.Equal(0, ledger.Alive);
    }

    [Fact]
    public async Task Dispose_CreationInFlight_TheAcquireFailsAndTheResourceIsDestroyedWhenItArrives()
    {
        ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.CreateGate = _ => gate.Task;
        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();

        pool.Dispose();
        gate.SetResult();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => acquire.WaitAsync(TestTimeout));
        await WaitForAsync(() => ledger.Destroyed == 1, () => $"the resource created during disposal survived: {pool.GetStatistics()}");
        Assert.Equal(1, ledger.Created);
        Assert.Equal(0, pool.GetStatistics().Live);
    }

    [Fact]
    public async Task Statistics_AfterEveryKindOfOutcome_CountEachOnceAndAgreeWithTheLedger()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out FakeTimeProvider time, o =>
        {
            o.MaxSize = 1;
            o.MaxWaiters = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
        });

        PoolLease<FakeResource> a = await pool.AcquireAsync();                          // acquired at once
        Task<PoolLease<FakeResource>> waited = pool.AcquireAsync().AsTask();            // waits
        await Assert.ThrowsAsync<PoolExhaustedException>(() => pool.AcquireAsync().AsTask()); // rejected: queue full
        a.Dispose();
        PoolLease<FakeResource> w = await waited.WaitAsync(TestTimeout);
        w.MarkBroken();
        w.Dispose();                                                                    // destroyed: broken
        PoolLease<FakeResource> c = await pool.AcquireAsync();                          // a second resource, at once
        Task<PoolLease<FakeResource>> timedOut = pool.AcquireAsync().AsTask();          // waits, then times out
        time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<PoolExhaustedException>(() => timedOut.WaitAsync(TestTimeout));
        using var cts = new CancellationTokenSource();
        Task<PoolLease<FakeResource>> canceled = pool.AcquireAsync(cts.Token).AsTask(); // waits, then is canceled
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled.WaitAsync(TestTimeout));
        c.MarkClosedByCaller();
        c.Dispose();                                                                    // destroyed: closed by caller

        PoolStatistics stats = await SettledAsync(pool, ledger, idle: 0);
        Assert.Equal(3, stats.TotalAcquires);
        Assert.Equal(3, stats.TotalAcquiresWaited);
        Assert.Equal(1, stats.TotalAcquiresRejected);
        Assert.Equal(1, stats.TotalTimeouts);
        Assert.Equal(1, stats.TotalAcquiresCanceled);
        Assert.Equal(2, stats.TotalCreated);
        Assert.Equal(ledger.Created, stats.TotalCreated);
        Assert.Equal(2, stats.TotalDestroyed);
        Assert.Equal(ledger.Destroyed, stats.TotalDestroyed);
        Assert.Equal(stats.TotalDestroyed, SumOf(stats.DestroyedBy));
        Assert.Equal(1, stats.DestroyedBy.Broken);
        Assert.Equal(1, stats.DestroyedBy.ClosedByCaller);
        Assert.Equal(0, stats.TotalCreationFailures);
    }
}
