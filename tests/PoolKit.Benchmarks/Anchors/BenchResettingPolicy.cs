namespace PoolKit.Benchmarks.Anchors;

/// <summary>
/// <see cref="BenchResourcePolicy"/> with a ResetAsync of its own (synchronous, does nothing): the pool cannot know
/// that it does nothing, so a return takes the two-step path (end the lease, reset, publish) that every policy with a
/// real reset takes, such as the Npgsql one.
/// </summary>
public sealed class BenchResettingPolicy : ResourcePolicy<BenchResource>
{
    /// <inheritdoc />
    public override ValueTask<BenchResource> CreateAsync(CancellationToken cancellationToken) => new(new BenchResource());

    /// <inheritdoc />
    public override ValueTask<bool> ResetAsync(BenchResource resource, CancellationToken cancellationToken) => new(true);
}
