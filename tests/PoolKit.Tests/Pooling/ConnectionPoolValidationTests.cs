using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class ConnectionPoolValidationTests
{
    [Fact]
    public async Task AcquireAsync_IdleWithinBypassWindow_IsNotValidated()
    {
        await using var pool = PoolFactory.Create(out _, out var time);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;
        lease.Dispose();
        time.Advance(TimeSpan.FromMilliseconds(499));

        using PoolLease<FakeResource> again = await pool.AcquireAsync();

        Assert.Same(resource, again.Resource);
        Assert.Equal(0, resource.ValidateCount);
    }

    [Fact]
    public async Task AcquireAsync_WindowBelowTheCachedTicksResolution_IsHonouredOnTheSystemClock()
    {
        // The system clock (not a fake): the rent/return path's cached tick is ~10 ms coarse.
        var policy = new FakePolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 1, ValidationBypassWindow = TimeSpan.FromMilliseconds(1) });
        (await pool.AcquireAsync()).Dispose();
        FakeResource resource = Assert.Single(policy.All);

        for (int i = 0; i < 20; i++)
        {
            // Idle 3 ms, three times the window.
            var idle = System.Diagnostics.Stopwatch.StartNew();
            SpinWait.SpinUntil(() => idle.Elapsed >= TimeSpan.FromMilliseconds(3));
            (await pool.AcquireAsync()).Dispose();
        }

        Assert.Equal(20, resource.ValidateCount);
    }

    [Fact]
    public async Task AcquireAsync_ZeroWindowAsynchronousValidation_FirstAcquireOfAnEmptyPoolIsServed()
    {
        var policy = new YieldingPolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 1, ValidationBypassWindow = TimeSpan.Zero, AcquireTimeout = TimeSpan.FromSeconds(5) });

        using PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.InRange(lease.Resource.ValidateCount, 0, 1);
    }

    [Fact]
    public async Task AcquireAsync_ZeroWindowAsynchronousValidation_WaiterIsServedAfterOneValidation()
    {
        var policy = new YieldingPolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 1, ValidationBypassWindow = TimeSpan.Zero, AcquireTimeout = TimeSpan.FromSeconds(5) });
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        FakeResource resource = held.Resource;
        int before = resource.ValidateCount;

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        held.Dispose();
        using PoolLease<FakeResource> lease = await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Same(resource, lease.Resource);
        Assert.Equal(before + 1, resource.ValidateCount);
    }

    [Fact]
    public async Task AcquireAsync_ValidatorAlwaysFails_OneAcquireCostsABoundedNumberOfCreations()
    {
        var policy = new YieldingPolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 1, ValidationBypassWindow = TimeSpan.Zero, AcquireTimeout = TimeSpan.FromSeconds(2) });
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        int createdBefore = policy.Created;
        policy.ValidationResult = false;
        Task<PoolLease<FakeResource>> second = pool.AcquireAsync().AsTask();
        first.Dispose();

        using PoolLease<FakeResource> lease = await second.WaitAsync(TimeSpan.FromSeconds(10));

        // The returned one fails its validation and is destroyed; one creation replaces it, handed out as created.
        Assert.Equal(createdBefore + 1, policy.Created);
        Assert.Equal(1, policy.Validations);
    }

    /// <summary>Creation and validation that complete asynchronously, as PoolKit.Npgsql's do.</summary>
    private sealed class YieldingPolicy : ResourcePolicy<FakeResource>
    {
        private int _nextId;
        private int _validations;

        public bool ValidationResult { get; set; } = true;

        public int Created => Volatile.Read(ref _nextId);

        public int Validations => Volatile.Read(ref _validations);

        public override async ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken)
        {
            await Task.Yield();
            return new FakeResource(Interlocked.Increment(ref _nextId));
        }

        public override async ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            resource.ValidateCount++;
            Interlocked.Increment(ref _validations);
            await Task.Yield();
            return ValidationResult;
        }
    }

    [Fact]
    public async Task AcquireAsync_IdleBeyondBypassWindow_IsValidatedBeforeHandOut()
    {
        await using var pool = PoolFactory.Create(out _, out var time);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;
        lease.Dispose();
        time.Advance(TimeSpan.FromMilliseconds(500));

        using PoolLease<FakeResource> again = await pool.AcquireAsync();

        Assert.Same(resource, again.Resource);
        Assert.Equal(1, resource.ValidateCount);
    }

    [Fact]
    public async Task AcquireAsync_ValidationFails_DestroysItAndHandsOutAFreshOne()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource dead = lease.Resource;
        lease.Dispose();
        dead.Invalid = true;
        time.Advance(TimeSpan.FromSeconds(1));

        using PoolLease<FakeResource> fresh = await pool.AcquireAsync();

        Assert.NotSame(dead, fresh.Resource);
        Assert.True(dead.Destroyed);
        Assert.Equal(2, policy.Created);
    }

    [Fact]
    public async Task AcquireAsync_UnusableIdleResource_IsDestroyedWithoutValidation()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource broken = lease.Resource;
        lease.Dispose();
        broken.Unusable = true;

        using PoolLease<FakeResource> fresh = await pool.AcquireAsync();

        Assert.NotSame(broken, fresh.Resource);
        Assert.True(broken.Destroyed);
        Assert.Equal(0, broken.ValidateCount);
    }

    [Fact]
    public async Task Dispose_PolicySaysTheHolderClosedIt_DestroyedAndCountedAsClosedByCallerNotAsAFailedReset()
    {
        // Issue 19, defect 11: a connection its caller closed was counted as "reset failed".
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;
        resource.ClosedByCaller = true;

        lease.Dispose();

        Assert.True(resource.Destroyed);
        Assert.Equal(0, resource.ResetCount);
        Assert.Equal(1, pool.GetStatistics().DestroyedBy.ClosedByCaller);
        Assert.Equal(0, pool.GetStatistics().DestroyedBy.ResetFailed);
    }

    [Fact]
    public async Task Dispose_LeaseMarkedBroken_DestroysTheResource()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;

        lease.MarkBroken();
        lease.Dispose();

        Assert.True(resource.Destroyed);
        Assert.Equal(0, pool.GetStatistics().Live);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task Dispose_ResetRefuses_DestroysTheResource()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        policy.ResetResult = false;
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        FakeResource resource = lease.Resource;

        lease.Dispose();

        Assert.True(resource.Destroyed);
        Assert.Equal(0, pool.GetStatistics().Live);
    }

    [Fact]
    public async Task ReturnAsync_AsynchronousReset_ResourceIsReusableOnlyAfterTheReset()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 1);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.ResetGate = () => resetGate.Task;
        PoolLease<FakeResource> lease = await pool.AcquireAsync();

        ValueTask returning = pool.ReturnAsync(lease);
        Assert.False(returning.IsCompleted);
        Assert.False(pool.TryAcquire(out _));
        Assert.Equal(1, pool.GetStatistics().Leased);

        resetGate.SetResult();
        await returning;
        Assert.Equal(1, pool.GetStatistics().Idle);
    }

    [Fact]
    public async Task DisposeAsync_AsynchronousReset_ReturnsAtOnceAndTheResourceWaitsForItsReset()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 1);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.ResetGate = () => resetGate.Task;
        PoolLease<FakeResource> lease = await pool.AcquireAsync();

        ValueTask disposing = lease.DisposeAsync();

        Assert.True(disposing.IsCompletedSuccessfully);
        Assert.False(lease.IsActive);
        Task<PoolLease<FakeResource>> next = pool.AcquireAsync().AsTask();
        Assert.False(next.IsCompleted);
        resetGate.SetResult();
        using PoolLease<FakeResource> again = await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, again.Resource.ResetCount);
    }
}
