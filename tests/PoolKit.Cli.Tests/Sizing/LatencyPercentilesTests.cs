using PoolKit.Cli.Sizing;

namespace PoolKit.Cli.Tests.Sizing;

public sealed class LatencyPercentilesTests
{
    [Fact]
    public void Of_HundredValues_NearestRank()
    {
        double[] sorted = Enumerable.Range(1, 100).Select(static i => (double)i).ToArray();

        Assert.Equal(50, LatencyPercentiles.Of(sorted, 50));
        Assert.Equal(99, LatencyPercentiles.Of(sorted, 99));
        Assert.Equal(100, LatencyPercentiles.Of(sorted, 100));
    }

    [Fact]
    public void Of_SmallSample_P99IsTheMaximum()
    {
        Assert.Equal(7, LatencyPercentiles.Of([1, 2, 7], 99));
        Assert.Equal(2, LatencyPercentiles.Of([1, 2, 7], 50));
    }

    [Fact]
    public void Of_Empty_IsZero() => Assert.Equal(0, LatencyPercentiles.Of([], 50));
}
