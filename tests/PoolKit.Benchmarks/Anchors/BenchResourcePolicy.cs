namespace PoolKit.Benchmarks.Anchors;

/// <summary>
/// The cheapest honest policy: creation completes synchronously, and the base class's ValidateAsync, ResetAsync and
/// IsUsable complete synchronously too, so a microbenchmark measures the pool itself and not the resource.
/// </summary>
public sealed class BenchResourcePolicy : ResourcePolicy<BenchResource>
{
    /// <inheritdoc />
    public override ValueTask<BenchResource> CreateAsync(CancellationToken cancellationToken) => new(new BenchResource());
}
