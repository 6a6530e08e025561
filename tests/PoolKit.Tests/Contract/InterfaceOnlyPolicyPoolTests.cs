using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <summary>
/// The contract over a policy that implements <see cref="IResourcePolicy{T}"/> directly, as adapters do: the pool
/// assumes nothing (two-step return with a synchronous reset, usability gate on every hand-out).
/// </summary>
public sealed class InterfaceOnlyPolicyPoolTests : ConnectionPoolContract
{
    protected override bool ResetsNothing => false;

    protected override bool AlwaysUsable => false;

    [Fact]
    public Task Dispose_SynchronousReset_TheResourceIsIdleAtOnce() => AssertDisposeMakesTheResourceIdleAtOnceAsync();

    [Fact]
    public Task Return_AnyWay_ResetsOncePerLease() => AssertTheResetRunsOncePerReturnAsync();

    [Fact]
    public Task Reset_AnswersFalse_TheResourceIsDestroyed() => AssertAFailedResetDestroysTheResourceAsync();

    [Fact]
    public Task HandOut_ResourceNoLongerUsable_IsDestroyedOnEveryPath() => AssertAnUnusableResourceIsNeverHandedOutAsync();

    protected override IResourcePolicy<FakeResource> CreatePolicy(ResourceLedger ledger) => new InterfaceOnlyPolicy(ledger);
}
