using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <content>
/// Promises that exist for some shapes only (a reset, a usability gate, a synchronous or asynchronous return). Each is
/// written once here and run as a fact by the subclasses of the shapes it applies to.
/// </content>
public abstract partial class ConnectionPoolContract
{
    /// <summary>A return that needs no asynchronous work publishes the resource before Dispose returns.</summary>
    protected async Task AssertDisposeMakesTheResourceIdleAtOnceAsync()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;

        lease.Dispose();

        Assert.Equal(1, pool.GetStatistics().Idle);
        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> again));
        Assert.Same(resource, again.Resource);
        again.Dispose();
        await SettledAsync(pool, ledger, idle: 1);
    }

    /// <summary>A resetting policy's reset runs once per returned lease, whichever way it is returned, and never for a duplicate return.</summary>
    protected async Task AssertTheResetRunsOncePerReturnAsync()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        FakeResource? resource = null;
        for (int i = 0; i < 6; i++)
        {
            PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);
            resource = lease.Resource;
            switch (i % 3)
            {
                case 0:
                    lease.Dispose();
                    lease.Dispose();
                    break;
                case 1:
                    await lease.DisposeAsync();
                    await lease.DisposeAsync();
                    break;
                default:
                    await pool.ReturnAsync(lease);
                    lease.Dispose();
                    break;
            }
        }

        await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(6, resource!.ResetCount);
        Assert.Equal(6, ledger.Resets);
        Assert.Equal(1, ledger.Created);
    }

    /// <summary>A reset that answers <see langword="false"/> destroys the resource (counted as ResetFailed); the next acquire gets a new one.</summary>
    protected async Task AssertAFailedResetDestroysTheResourceAsync()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;
        ledger.ResetResult = false;

        await pool.ReturnAsync(lease).AsTask().WaitAsync(TestTimeout);

        Assert.True(resource.Destroyed);
        ledger.ResetResult = true;
        PoolLease<FakeResource> next = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);
        Assert.NotSame(resource, next.Resource);
        await pool.ReturnAsync(next);
        PoolStatistics stats = await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(1, stats.DestroyedBy.ResetFailed);
    }

    /// <summary>
    /// IsUsable "runs every time a resource is handed out, on every path": a resource the policy finds unusable is
    /// destroyed (counted as Unusable) instead of reaching a scanning acquirer, <c>TryAcquire</c> or a waiter.
    /// </summary>
    protected async Task AssertAnUnusableResourceIsNeverHandedOutAsync()
    {
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _, o => o.MaxSize = 1);

        // To a scanning acquirer.
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource first = lease.Resource;
        first.Unusable = true;
        await pool.ReturnAsync(lease);
        lease = await pool.AcquireAsync().AsTask().WaitAsync(TestTimeout);
        Assert.NotSame(first, lease.Resource);
        Assert.True(first.Destroyed);

        // To TryAcquire: nothing, and nothing created.
        FakeResource second = lease.Resource;
        second.Unusable = true;
        await pool.ReturnAsync(lease);
        Assert.False(pool.TryAcquire(out _), "TryAcquire handed out an unusable resource");
        Assert.True(second.Destroyed);
        Assert.Equal(2, ledger.Created);

        // To a waiter.
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        FakeResource third = held.Resource;
        third.Unusable = true;
        held.Dispose();
        PoolLease<FakeResource> handed = await waiting.WaitAsync(TestTimeout);
        Assert.NotSame(third, handed.Resource);
        Assert.False(handed.Resource.Unusable, "a waiter was handed a resource that fails IsUsable");
        await pool.ReturnAsync(handed);

        PoolStatistics stats = await SettledAsync(pool, ledger, idle: 1);
        Assert.Equal(3, stats.DestroyedBy.Unusable);
    }
}
