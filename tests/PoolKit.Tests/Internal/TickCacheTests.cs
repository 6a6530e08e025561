using PoolKit.Internal;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Internal;

/// <summary>
/// The cached tick of the rent/return path (<see cref="TickCache"/>) on the real clock: never ahead of the exact
/// tick, behind it by little, and the pool's promises that depend on it still kept on <see cref="TimeProvider.System"/>.
/// </summary>
public sealed class TickCacheTests
{
    [Fact]
    public void Now_IsNeverAheadOfTheExactTick_AndStaysClose()
    {
        long worstLag = 0;
        var until = DateTime.UtcNow.AddMilliseconds(300);
        while (DateTime.UtcNow < until)
        {
            long before = Environment.TickCount64;
            long cached = TickCache.Now;
            long after = Environment.TickCount64;
            Assert.True(cached <= after, $"cached tick {cached} ahead of the exact tick {after}");
            worstLag = Math.Max(worstLag, before - cached);
        }

        Assert.True(TickCache.IsRunning, "the ticker runs while somebody reads");

        // One interval (10 ms) plus the time the OS takes to wake a sleeping thread on a busy 2-core machine.
        Assert.True(worstLag < 250, $"the cached tick lagged {worstLag} ms behind");
    }

    [Fact]
    public async Task ValidationWindowOfZero_OnTheSystemClock_ValidatesEveryHandOut()
    {
        // A resource published idle by the warm-up (stamped with the exact clock) and taken at once by the fast path
        // (which reads the cached tick, up to an interval older): "idle for a negative time" must still validate.
        var policy = new FakePolicy();
        for (int round = 0; round < 20; round++)
        {
            var options = new ConnectionPoolOptions { Name = "zero-window", MaxSize = 1, MinSize = 1, ValidationBypassWindow = TimeSpan.Zero };
            await using var pool = new ConnectionPool<FakeResource>(policy, options);
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (pool.GetStatistics().Idle == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the pool did not warm up to MinSize within 10 s");
                await Task.Delay(1);
            }

            using PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

            Assert.Equal(1, lease.Resource.ValidateCount);
        }
    }

    [Fact]
    public async Task IdleBeyondTheWindow_OnTheSystemClock_IsValidated()
    {
        var options = new ConnectionPoolOptions { Name = "window", MaxSize = 1, ValidationBypassWindow = TimeSpan.FromMilliseconds(100) };
        await using var pool = new ConnectionPool<FakeResource>(new FakePolicy(), options);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        FakeResource resource = first.Resource;
        first.Dispose();
        using (PoolLease<FakeResource> soon = await pool.AcquireAsync())
        {
            Assert.Equal(0, resource.ValidateCount);
        }

        // Idle for well beyond the window and the cached tick's lag.
        await Task.Delay(TimeSpan.FromMilliseconds(400));
        Assert.True(pool.TryAcquire(out PoolLease<FakeResource> later), "the idle resource is handed out after its synchronous validation");
        using (later)
        {
            Assert.Same(resource, later.Resource);
            Assert.Equal(1, resource.ValidateCount);
        }
    }
}
