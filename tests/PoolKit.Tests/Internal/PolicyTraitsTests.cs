using PoolKit.Internal;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Internal;

public sealed class PolicyTraitsTests
{
    [Fact]
    public void Of_PolicyKeepingTheDefaults_ResetsNothingAndIsAlwaysUsable()
    {
        PolicyTraits<FakeResource> traits = PolicyTraits<FakeResource>.Of(new NoResetPolicy());

        Assert.True(traits.ResetsNothing);
        Assert.True(traits.AlwaysUsable);
    }

    [Fact]
    public void Of_PolicyOverridingResetAndIsUsable_NeitherTrait()
    {
        PolicyTraits<FakeResource> traits = PolicyTraits<FakeResource>.Of(new OverridingPolicy());

        Assert.False(traits.ResetsNothing);
        Assert.False(traits.AlwaysUsable);
    }

    [Fact]
    public void Of_PolicyReimplementingTheInterfaceExplicitly_NeitherTrait()
    {
        PolicyTraits<FakeResource> traits = PolicyTraits<FakeResource>.Of(new ReimplementingPolicy());

        Assert.False(traits.ResetsNothing);
        Assert.False(traits.AlwaysUsable);
    }

    [Fact]
    public void Of_PolicyImplementingTheInterfaceDirectly_NeitherTrait()
    {
        PolicyTraits<FakeResource> traits = PolicyTraits<FakeResource>.Of(new FakePolicy());

        Assert.False(traits.ResetsNothing);
        Assert.False(traits.AlwaysUsable);
    }

    private class OverridingPolicy : ResourcePolicy<FakeResource>
    {
        public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) => new(new FakeResource(1));

        public override bool IsUsable(FakeResource resource) => !resource.Unusable;

        public override ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            resource.ResetCount++;
            return new(true);
        }
    }

    private sealed class ReimplementingPolicy : ResourcePolicy<FakeResource>, IResourcePolicy<FakeResource>
    {
        public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) => new(new FakeResource(1));

        bool IResourcePolicy<FakeResource>.IsUsable(FakeResource resource) => !resource.Unusable;

        ValueTask<bool> IResourcePolicy<FakeResource>.ResetAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            resource.ResetCount++;
            return new(true);
        }
    }
}
