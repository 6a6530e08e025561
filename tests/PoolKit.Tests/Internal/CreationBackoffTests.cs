using Microsoft.Extensions.Time.Testing;
using PoolKit.Internal;

namespace PoolKit.Tests.Internal;

public sealed class CreationBackoffTests
{
    [Fact]
    public void RecordFailure_Repeated_DelayGrowsWithinJitterUpToTheMaxAndSuccessForgetsIt()
    {
        var time = new FakeTimeProvider();
        var clock = new PoolClock(time);
        var backoff = new CreationBackoff(clock, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(800));
        var error = new IOException("down");

        for (int n = 1; n <= 6; n++)
        {
            TimeSpan delay = backoff.RecordFailure(error, clock.Now);
            double full = Math.Min(800, 100 * Math.Pow(2, n - 1));
            Assert.InRange(delay.TotalMilliseconds, (full * 0.5) - 1, full);
            Assert.True(backoff.IsBlocked(clock.Now));
            Assert.Equal(n, backoff.ConsecutiveFailures);
        }

        Assert.Same(error, backoff.LastError);
        backoff.RecordSuccess();
        Assert.False(backoff.IsBlocked(clock.Now));
        Assert.Equal(0, backoff.ConsecutiveFailures);
        Assert.Null(backoff.LastError);
    }
}
