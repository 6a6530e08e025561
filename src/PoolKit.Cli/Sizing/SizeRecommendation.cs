namespace PoolKit.Cli.Sizing;

/// <summary>
/// Picks the pool size to use: the smallest size whose throughput is within the tolerance of the best. A larger pool
/// buys nothing past that point but more server processes, memory and lock contention.
/// </summary>
/// <param name="BestPoolSize">The size with the highest throughput (the smallest one on a tie).</param>
/// <param name="BestThroughput">Its throughput.</param>
/// <param name="RecommendedPoolSize">The smallest size with throughput at least (100 - tolerance)% of the best.</param>
/// <param name="RecommendedThroughput">Its throughput.</param>
internal sealed record SizeRecommendation(int BestPoolSize, double BestThroughput, int RecommendedPoolSize, double RecommendedThroughput)
{
    /// <summary>Chooses from <paramref name="measurements"/>.</summary>
    /// <param name="measurements">One per size, in any order.</param>
    /// <param name="tolerancePercent">How far below the best, in percent, the recommendation may be.</param>
    /// <returns>The choice, or <see langword="null"/> when nothing committed at any size.</returns>
    public static SizeRecommendation? Choose(IEnumerable<SizeMeasurement> measurements, double tolerancePercent)
    {
        SizeMeasurement[] bySize = measurements.Where(static m => m.Throughput > 0).OrderBy(static m => m.PoolSize).ToArray();
        if (bySize.Length == 0)
        {
            return null;
        }

        SizeMeasurement best = bySize[0];
        foreach (SizeMeasurement m in bySize)
        {
            if (m.Throughput > best.Throughput)
            {
                best = m;
            }
        }

        double threshold = best.Throughput * (1 - (tolerancePercent / 100));
        SizeMeasurement recommended = bySize.First(m => m.Throughput >= threshold);
        return new SizeRecommendation(best.PoolSize, best.Throughput, recommended.PoolSize, recommended.Throughput);
    }
}
