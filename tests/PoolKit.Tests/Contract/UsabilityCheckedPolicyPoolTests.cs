using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <summary>The contract over README's SocketPolicy shape: IsUsable overridden, the default reset kept (one-CAS return, usability gate on every hand-out).</summary>
public sealed class UsabilityCheckedPolicyPoolTests : ConnectionPoolContract
{
    protected override bool ResetsNothing => true;

    protected override bool AlwaysUsable => false;

    [Fact]
    public Task Dispose_NothingToReset_TheResourceIsIdleAtOnce() => AssertDisposeMakesTheResourceIdleAtOnceAsync();

    [Fact]
    public Task HandOut_ResourceNoLongerUsable_IsDestroyedOnEveryPath() => AssertAnUnusableResourceIsNeverHandedOutAsync();

    protected override IResourcePolicy<FakeResource> CreatePolicy(ResourceLedger ledger) => new UsabilityCheckedPolicy(ledger);
}
