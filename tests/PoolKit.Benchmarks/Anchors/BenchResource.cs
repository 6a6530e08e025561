namespace PoolKit.Benchmarks.Anchors;

/// <summary>A stand-in for an expensive resource: an object with a little state, so pools have something to hold.</summary>
public sealed class BenchResource
{
    /// <summary>Bumped by the benchmarks so the JIT cannot drop the use of a rented resource.</summary>
    public int Uses { get; set; }
}
