using PoolKit.Cli.Sizing;

namespace PoolKit.Cli.Tests.Sizing;

public sealed class SizeRecommendationTests
{
    private static SizeMeasurement At(int size, double throughput) =>
        new(size, (long)throughput, 0, 1, 1, 2, 3, size);

    [Fact]
    public void Choose_SmallerSizeWithinTolerance_IsRecommended()
    {
        SizeRecommendation? pick = SizeRecommendation.Choose([At(1, 100), At(2, 180), At(4, 960), At(8, 1_000), At(16, 990)], 5);

        Assert.NotNull(pick);
        Assert.Equal(8, pick.BestPoolSize);
        Assert.Equal(4, pick.RecommendedPoolSize);
    }

    [Fact]
    public void Choose_ZeroTolerance_RecommendsTheBest()
    {
        SizeRecommendation? pick = SizeRecommendation.Choose([At(16, 990), At(8, 1_000), At(4, 960)], 0);

        Assert.Equal(8, pick!.RecommendedPoolSize);
    }

    [Fact]
    public void Choose_JustOutsideTolerance_IsNotRecommended()
    {
        SizeRecommendation? pick = SizeRecommendation.Choose([At(4, 949), At(8, 1_000)], 5);

        Assert.Equal(8, pick!.RecommendedPoolSize);
    }

    [Fact]
    public void Choose_NothingCommitted_ReturnsNull() =>
        Assert.Null(SizeRecommendation.Choose([At(1, 0), At(2, 0)], 5));
}
