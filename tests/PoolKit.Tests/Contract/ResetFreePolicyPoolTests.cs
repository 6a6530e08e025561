using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <summary>The contract over a policy that keeps every default: the pool returns in one CAS (<c>Return</c>'s publishing end of the lease).</summary>
public sealed class ResetFreePolicyPoolTests : ConnectionPoolContract
{
    protected override bool ResetsNothing => true;

    protected override bool AlwaysUsable => true;

    [Fact]
    public Task Dispose_NothingToReset_TheResourceIsIdleAtOnce() => AssertDisposeMakesTheResourceIdleAtOnceAsync();

    protected override IResourcePolicy<FakeResource> CreatePolicy(ResourceLedger ledger) => new ResetFreePolicy(ledger);
}
