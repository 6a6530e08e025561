using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <summary>The contract over a policy whose reset completes synchronously: two-step return, released at once.</summary>
public sealed class SynchronousResetPolicyPoolTests : ConnectionPoolContract
{
    protected override bool ResetsNothing => false;

    protected override bool AlwaysUsable => true;

    [Fact]
    public Task Dispose_SynchronousReset_TheResourceIsIdleAtOnce() => AssertDisposeMakesTheResourceIdleAtOnceAsync();

    [Fact]
    public Task Return_AnyWay_ResetsOncePerLease() => AssertTheResetRunsOncePerReturnAsync();

    [Fact]
    public Task Reset_AnswersFalse_TheResourceIsDestroyed() => AssertAFailedResetDestroysTheResourceAsync();

    protected override IResourcePolicy<FakeResource> CreatePolicy(ResourceLedger ledger) => new SynchronousResetPolicy(ledger);
}
