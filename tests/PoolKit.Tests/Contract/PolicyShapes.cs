using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

// The policy shapes the contract suite runs against. The pool inspects a policy once (PolicyTraits) and takes a
// different return path for each shape, so each one is a different implementation of the same promises.

/// <summary>Keeps every default of <see cref="ResourcePolicy{T}"/>: the pool returns in one CAS and never calls ResetAsync or IsUsable.</summary>
public sealed class ResetFreePolicy(ResourceLedger ledger) : ResourcePolicy<FakeResource>
{
    public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) => ledger.CreateAsync(cancellationToken);

    public override ValueTask DestroyAsync(FakeResource resource) => ledger.DestroyAsync(resource);
}

/// <summary>Overrides ResetAsync with a reset that completes synchronously: a two-step return, released at once.</summary>
public sealed class SynchronousResetPolicy(ResourceLedger ledger) : ResourcePolicy<FakeResource>
{
    public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) => ledger.CreateAsync(cancellationToken);

    public override ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken) => new(ledger.Reset(resource));

    public override ValueTask DestroyAsync(FakeResource resource) => ledger.DestroyAsync(resource);
}

/// <summary>Overrides ResetAsync with a reset that completes asynchronously: the resource is on its way back (<c>Returning</c>) while it runs.</summary>
public sealed class AsynchronousResetPolicy(ResourceLedger ledger) : ResourcePolicy<FakeResource>
{
    public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) => ledger.CreateAsync(cancellationToken);

    public override ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken) => ledger.ResetLaterAsync(resource);

    public override ValueTask DestroyAsync(FakeResource resource) => ledger.DestroyAsync(resource);
}

/// <summary>README's SocketPolicy shape: overrides IsUsable only, so every hand-out runs the usability gate.</summary>
public sealed class UsabilityCheckedPolicy(ResourceLedger ledger) : ResourcePolicy<FakeResource>
{
    public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) => ledger.CreateAsync(cancellationToken);

    public override bool IsUsable(FakeResource resource) => !resource.Unusable;

    public override ValueTask DestroyAsync(FakeResource resource) => ledger.DestroyAsync(resource);
}

/// <summary>
/// Implements <see cref="IResourcePolicy{T}"/> directly, as an adapter would: the pool knows nothing of its methods,
/// calls all of them, and returns in two steps (a synchronous reset) through the usability gate.
/// </summary>
public sealed class InterfaceOnlyPolicy(ResourceLedger ledger) : IResourcePolicy<FakeResource>
{
    public ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) => ledger.CreateAsync(cancellationToken);

    public bool IsUsable(FakeResource resource) => !resource.Unusable;

    public ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken) => new(true);

    public ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken) => new(ledger.Reset(resource));

    public ValueTask DestroyAsync(FakeResource resource) => ledger.DestroyAsync(resource);
}
