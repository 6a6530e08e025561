using Microsoft.Extensions.Time.Testing;
using PoolKit.Internal;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Internal;

public sealed class WaiterTests
{
    [Fact]
    public async Task TryComplete_TwoCompleters_OnlyTheFirstWinsAndAStaleEpochNeverCompletesALaterWait()
    {
        var time = new FakeTimeProvider();
        using var queue = new WaiterQueue<FakeResource>(time, new PoolClock(time), () => { });
        queue.RentAndEnqueue(long.MaxValue, null, out Waiter<FakeResource>? waiter);
        Assert.True(queue.TryDequeue(out _, out int epoch));

        Assert.True(waiter!.TryComplete(epoch, new WaitResult<FakeResource>(null, WaitOutcome.TimedOut)));
        Assert.False(waiter.TryComplete(epoch, new WaitResult<FakeResource>(null, WaitOutcome.Canceled)));
        Assert.False(waiter.IsPending);
        WaitResult<FakeResource> result = await waiter.AsValueTask().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WaitOutcome.TimedOut, result.Outcome);

        // Recycled for a new wait: the old epoch is dead.
        queue.RemoveAndRecycle(waiter);
        queue.RentAndEnqueue(long.MaxValue, null, out Waiter<FakeResource>? again);
        Assert.Same(waiter, again);
        Assert.True(again!.IsPending);
        Assert.False(again.TryComplete(epoch, new WaitResult<FakeResource>(null, WaitOutcome.Canceled)));
        Assert.True(again.TryCompleteCurrent(new WaitResult<FakeResource>(null, WaitOutcome.Canceled)));
    }
}
