namespace PoolKit.Cli.Sizing;

/// <summary>Percentiles of a set of latencies, by the nearest-rank method (each percentile is one observed value).</summary>
internal static class LatencyPercentiles
{
    /// <summary>Gets the <paramref name="percentile"/>-th percentile of <paramref name="sorted"/>.</summary>
    /// <param name="sorted">The latencies, sorted ascending.</param>
    /// <param name="percentile">Between 0 (exclusive) and 100 (inclusive).</param>
    /// <returns>The smallest value with at least <paramref name="percentile"/> percent of the values at or below it; 0 when there are none.</returns>
    public static double Of(IReadOnlyList<double> sorted, double percentile)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(percentile);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentile, 100);
        if (sorted.Count == 0)
        {
            return 0;
        }

        int rank = (int)Math.Ceiling(percentile / 100 * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }
}
