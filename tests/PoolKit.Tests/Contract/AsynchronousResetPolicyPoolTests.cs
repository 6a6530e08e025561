using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <summary>
/// The contract over a policy whose reset completes asynchronously: a returned resource is on its way back while the
/// reset runs, and what is specific to that (ReturnAsync waits for it, Dispose does not, nobody creates because of it).
/// </summary>
public sealed class AsynchronousResetPolicyPoolTests : ConnectionPoolContract
{
    protected override bool ResetsNothing => false;

    protected override bool AlwaysUsable => true;

    [Fact]
    public Task Return_AnyWay_ResetsOncePerLease() => AssertTheResetRunsOncePerReturnAsync();

    [Fact]
    public Task Reset_AnswersFalse_TheResourceIsDestroyed() => AssertAFailedResetDestroysTheResourceAsync();

    [Fact]
    public async Task ReturnAsync_ResetRunning_CompletesOnlyOnceTheResourceIsAvailableAgain()
    {
        // "A task that completes when the resource has been reset and made available again."
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.ResetGate = () => resetGate.Task;

        Task returning = pool.ReturnAsync(lease).AsTask();

        Assert.False(returning.IsCompleted, "ReturnAsync completed while the reset was still running");
        Assert.False(lease.IsActive);
        Assert.Equal(1, pool.GetStatistics().Returning);
        Assert.Equal(0, pool.GetStatistics().Idle);
        resetGate.SetResult();
        await returning.WaitAsync(TestTimeout);
        Assert.Equal(1, pool.GetStatistics().Idle);
        Assert.Equal(1, ledger.Resets);
        await SettledAsync(pool, ledger, idle: 1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dispose_ResetRunning_ReturnsAtOnceAndTheNextAcquireWaitsForTheResetInsteadOfCreating(bool disposeAsync)
    {
        // PoolLease.Dispose/DisposeAsync: "If the policy's reset is asynchronous it finishes in the background, and the
        // resource is handed out again only after it." README: a resource being reset is on its way back, so nobody
        // creates because of it.
        await using ConnectionPool<FakeResource> pool = CreatePool(out ResourceLedger ledger, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ledger.ResetGate = () => resetGate.Task;

        if (disposeAsync)
        {
            Assert.True(lease.DisposeAsync().IsCompleted, "DisposeAsync waited for the reset");
        }
        else
        {
            lease.Dispose();
        }

        Assert.Equal(1, pool.GetStatistics().Returning);
        Assert.False(pool.TryAcquire(out _), "a resource was handed out before its reset ended");
        Task<PoolLease<FakeResource>> next = pool.AcquireAsync().AsTask();
        Assert.False(next.IsCompleted, "an acquire completed while the only resource was still being reset");
        Assert.Equal(1, ledger.Created);
        Assert.Equal(0, pool.GetStatistics().Creating);

        resetGate.SetResult();
        PoolLease<FakeResource> again = await next.WaitAsync(TestTimeout);
        Assert.Same(resource, again.Resource);
        Assert.Equal(1, resource.ResetCount);
        Assert.Equal(1, ledger.Created);
        ledger.ResetGate = null;
        await pool.ReturnAsync(again);
        await SettledAsync(pool, ledger, idle: 1);
    }

    protected override IResourcePolicy<FakeResource> CreatePolicy(ResourceLedger ledger) => new AsynchronousResetPolicy(ledger);
}
