using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class ConnectionPoolDisposeTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AcquireAsync_AfterDispose_ThrowsObjectDisposed()
    {
        var pool = PoolFactory.Create(out _, out _);
        await pool.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => pool.AcquireAsync());
        Assert.Throws<ObjectDisposedException>(() => pool.TryAcquire(out _));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.ClearAsync().AsTask());
    }

    [Fact]
    public async Task DisposeAsync_Waiters_FailAtOnceWithObjectDisposed()
    {
        var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();

        await pool.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WaitAsync(s_testTimeout));
        held.Dispose();
    }

    [Fact]
    public async Task DisposeAsync_DestroysIdleNowAndLeasedWhenReturned()
    {
        var pool = PoolFactory.Create(out FakePolicy policy, out _);
        PoolLease<FakeResource> idle = await pool.AcquireAsync();
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        FakeResource heldResource = held.Resource;
        idle.Dispose();

        await pool.DisposeAsync();

        Assert.Equal(1, policy.Destroyed);
        Assert.False(heldResource.Destroyed);
        held.Dispose();
        Assert.True(heldResource.Destroyed);
        Assert.Equal(0, policy.Alive);
    }

    [Fact]
    public async Task DisposeAsync_OutstandingLease_WaitsForItsReturnWithinDisposeTimeout()
    {
        var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.DisposeTimeout = TimeSpan.FromSeconds(30));
        PoolLease<FakeResource> held = await pool.AcquireAsync();

        Task disposing = pool.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);

        held.Dispose();
        await disposing.WaitAsync(s_testTimeout);
        Assert.Equal(0, policy.Alive);
    }

    [Fact]
    public async Task DisposeAsync_LeaseNeverReturned_GivesUpAfterDisposeTimeout()
    {
        var pool = PoolFactory.Create(out _, out var time, o => o.DisposeTimeout = TimeSpan.FromSeconds(5));
        PoolLease<FakeResource> leaked = await pool.AcquireAsync();

        Task disposing = pool.DisposeAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(disposing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        await disposing.WaitAsync(s_testTimeout);
        leaked.Dispose();
    }

    [Fact]
    public async Task DisposeAsync_CalledTwice_IsHarmless()
    {
        var pool = PoolFactory.Create(out FakePolicy policy, out _);
        (await pool.AcquireAsync()).Dispose();

        await pool.DisposeAsync();
        await pool.DisposeAsync();
        pool.Dispose();

        Assert.Equal(1, policy.Destroyed);
    }

    [Fact]
    public async Task Dispose_CreationInFlight_ResourceIsDestroyedWhenItArrives()
    {
        var pool = PoolFactory.Create(out FakePolicy policy, out _);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.CreateGate = _ => gate.Task;
        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();

        pool.Dispose();
        gate.SetResult();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => acquire.WaitAsync(s_testTimeout));
        Assert.Equal(1, policy.Created);
        Assert.Equal(1, policy.Destroyed);
    }
}
