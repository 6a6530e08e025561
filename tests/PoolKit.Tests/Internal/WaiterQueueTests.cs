using Microsoft.Extensions.Time.Testing;
using PoolKit.Internal;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Internal;

public sealed class WaiterQueueTests
{
    private static WaiterQueue<FakeResource> Create(FakeTimeProvider time, Action? onWakeUp = null) =>
        new(time, new PoolClock(time), onWakeUp ?? (() => { }));

    [Fact]
    public void TryDequeue_SeveralWaiters_ComeOutInArrivalOrder()
    {
        var time = new FakeTimeProvider();
        using WaiterQueue<FakeResource> queue = Create(time);
        queue.RentAndEnqueue(long.MaxValue, null, out Waiter<FakeResource>? a);
        queue.RentAndEnqueue(long.MaxValue, null, out Waiter<FakeResource>? b);
        queue.RentAndEnqueue(long.MaxValue, null, out Waiter<FakeResource>? c);

        Assert.Equal(3, queue.Count);
        Assert.Equal(3, queue.Enqueued);
        Assert.True(queue.TryDequeue(out Waiter<FakeResource>? first, out _));
        Assert.True(queue.TryDequeue(out Waiter<FakeResource>? second, out _));
        Assert.True(queue.TryDequeue(out Waiter<FakeResource>? third, out _));
        Assert.Same(a, first);
        Assert.Same(b, second);
        Assert.Same(c, third);
        Assert.False(queue.TryDequeue(out _, out _));
    }

    [Fact]
    public void DequeueAll_TakesEveryWaiterInOrderWithTheEpochToCompleteItWith()
    {
        var time = new FakeTimeProvider();
        using WaiterQueue<FakeResource> queue = Create(time);
        queue.RentAndEnqueue(long.MaxValue, null, out Waiter<FakeResource>? a);
        queue.RentAndEnqueue(long.MaxValue, null, out Waiter<FakeResource>? b);

        List<(Waiter<FakeResource> Waiter, int Epoch)> all = queue.DequeueAll();

        Assert.Equal([a!, b!], all.Select(x => x.Waiter));
        Assert.Equal(0, queue.Count);
        Assert.True(all[0].Waiter.TryComplete(all[0].Epoch, new WaitResult<FakeResource>(null, WaitOutcome.Disposed)));
        Assert.False(all[0].Waiter.TryComplete(all[0].Epoch, new WaitResult<FakeResource>(null, WaitOutcome.Disposed)));
    }

    [Fact]
    public async Task Timer_DeadlinePassed_CompletesTheWaiterTimedOut()
    {
        var time = new FakeTimeProvider();
        using WaiterQueue<FakeResource> queue = Create(time);
        var clock = new PoolClock(time);
        queue.RentAndEnqueue(clock.Now + clock.ToTicks(TimeSpan.FromSeconds(1)), null, out Waiter<FakeResource>? waiter);

        time.Advance(TimeSpan.FromSeconds(1));

        WaitResult<FakeResource> result = await waiter!.AsValueTask().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WaitOutcome.TimedOut, result.Outcome);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void WakeUpAt_TimeComes_RunsTheCallbackOnceEvenWithNobodyQueued()
    {
        var time = new FakeTimeProvider();
        int wakeUps = 0;
        using WaiterQueue<FakeResource> queue = Create(time, () => wakeUps++);
        var clock = new PoolClock(time);

        queue.WakeUpAt(clock.Now + clock.ToTicks(TimeSpan.FromMilliseconds(200)));
        time.Advance(TimeSpan.FromMilliseconds(199));
        Assert.Equal(0, wakeUps);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, wakeUps);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, wakeUps);
    }

    [Fact]
    public void RentAndEnqueue_QueueFull_RefusesANewcomer()
    {
        var time = new FakeTimeProvider();
        using WaiterQueue<FakeResource> queue = Create(time);
        Assert.Equal(EnqueueResult.Enqueued, queue.RentAndEnqueue(long.MaxValue, 1, out _));

        Assert.Equal(EnqueueResult.Full, queue.RentAndEnqueue(long.MaxValue, 1, out _));
        Assert.Equal(1, queue.Count);
    }
}
