using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class ConnectionPoolCreationTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task AcquireAsync_CreationFails_CallerGetsTheRealErrorAndTheReservationIsRolledBack()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        var refused = new IOException("connection refused");
        policy.FailCreate = _ => refused;

        IOException ex = await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());

        Assert.Same(refused, ex);
        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(0, stats.Live);
        Assert.Equal(1, stats.TotalCreationFailures);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task AcquireAsync_DuringBackOffWithNothingToWaitFor_FailsFastWithTheLastErrorInside()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        policy.FailCreate = _ => new IOException("connection refused");
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());

        ResourceCreationException ex = await Assert.ThrowsAsync<ResourceCreationException>(() => pool.AcquireAsync().AsTask());

        Assert.IsType<IOException>(ex.InnerException);
        Assert.Contains("connection refused", ex.Message, StringComparison.Ordinal);
        Assert.Contains("next attempt", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, policy.CreateAttempts);
    }

    [Fact]
    public async Task AcquireAsync_RepeatedFailures_BackOffGrowsAndThePoolRecoversWhenCreationWorksAgain()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(100);
            o.CreationBackoffMax = TimeSpan.FromSeconds(1);
        });
        policy.FailCreate = _ => new IOException("down");

        for (int i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());

            // Within the back-off nobody hammers the server.
            await Assert.ThrowsAsync<ResourceCreationException>(() => pool.AcquireAsync().AsTask());
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(5, policy.CreateAttempts);
        policy.FailCreate = null;
        await using PoolLease<FakeResource> lease = await pool.AcquireAsync();
        Assert.True(lease.IsActive);
        Assert.Equal(5, pool.GetStatistics().TotalCreationFailures);
    }

    [Fact]
    public async Task AcquireAsync_BackOffWithLeasesOutstanding_WaitsForAReturnInsteadOfFailing()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        PoolLease<FakeResource> held = await pool.AcquireAsync();
        policy.FailCreate = _ => new IOException("down");
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        held.Dispose();

        using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.Equal(1, lease.Resource.Id);
    }

    [Fact]
    public async Task AcquireAsync_TimesOutAfterCreationFailures_MessageCarriesTheLastCreationError()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.MaxSize = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
            o.CreationBackoffInitial = TimeSpan.FromSeconds(10);
            o.CreationBackoffMax = TimeSpan.FromSeconds(10);
        });
        using PoolLease<FakeResource> held = await pool.AcquireAsync();
        policy.FailCreate = _ => new IOException("password authentication failed for user \"app\"");
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(1));

        PoolExhaustedException ex = await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting.WaitAsync(s_testTimeout));
        Assert.Contains("Last creation error: IOException: password authentication failed", ex.Message, StringComparison.Ordinal);
        Assert.IsType<IOException>(ex.InnerException);
    }

    [Fact]
    public async Task AcquireAsync_BackOffEnds_HeadWaiterIsWokenAndCreates()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.MaxSize = 2;
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(200);
        });
        using PoolLease<FakeResource> held = await pool.AcquireAsync();
        policy.FailCreate = attempt => attempt == 2 ? new IOException("blip") : null;
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());

        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(200));

        using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.Equal(2, lease.Resource.Id);
    }

    [Fact]
    public async Task AcquireAsync_ColdStartBurst_CreatesAtMostMaxConcurrentCreationsAtOnce()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _, o =>
        {
            o.MaxSize = 8;
            o.MaxConcurrentCreations = 2;
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int inFlight = 0, peak = 0;
        policy.CreateGate = async ct =>
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            await gate.Task.WaitAsync(ct);
            Interlocked.Decrement(ref inFlight);
        };

        Task<PoolLease<FakeResource>>[] acquires = Enumerable.Range(0, 8).Select(_ => pool.AcquireAsync().AsTask()).ToArray();
        Assert.Equal(2, pool.GetStatistics().Creating);
        Assert.Equal(6, pool.GetStatistics().Waiting);
        gate.SetResult();

        PoolLease<FakeResource>[] leases = await Task.WhenAll(acquires).WaitAsync(s_testTimeout);
        Assert.Equal(2, peak);
        Assert.Equal(8, leases.Select(l => l.Resource).Distinct().Count());
        foreach (PoolLease<FakeResource> lease in leases)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task AcquireAsync_CreationHangs_TimesOutWithinAcquireTimeoutAndRollsBack()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o => o.AcquireTimeout = TimeSpan.FromSeconds(2));
        policy.CreateGate = ct => Task.Delay(Timeout.Infinite, ct);

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
        Assert.Equal(1, pool.GetStatistics().Creating);
        time.Advance(TimeSpan.FromSeconds(2));

        ResourceCreationException ex = await Assert.ThrowsAsync<ResourceCreationException>(() => acquire.WaitAsync(s_testTimeout));
        Assert.Contains("AcquireTimeout = 2000 ms", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, pool.GetStatistics().Live);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task AcquireAsync_CanceledDuringCreation_RollsBackWithoutBackOff()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        policy.CreateGate = ct => Task.Delay(Timeout.Infinite, ct);
        using var cts = new CancellationTokenSource();

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync(cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquire.WaitAsync(s_testTimeout));
        Assert.Equal(0, pool.GetStatistics().Live);
        Assert.Equal(0, pool.GetStatistics().TotalCreationFailures);
        policy.CreateGate = null;
        using PoolLease<FakeResource> lease = await pool.AcquireAsync();
        Assert.True(lease.IsActive);
    }

    [Fact]
    public async Task Constructor_MinSize_WarmsUpInTheBackgroundAndKeepsTheMinimumAfterEvictions()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.MinSize = 3;
            o.MaxSize = 5;
        });
        await WaitForAsync(() => pool.GetStatistics().Idle == 3);
        Assert.Equal(3, policy.Created);

        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        lease.MarkBroken();
        lease.Dispose();

        await WaitForAsync(() => pool.GetStatistics().Idle == 3);
        Assert.Equal(4, policy.Created);
        Assert.Equal(1, policy.Destroyed);
    }

    [Fact]
    public async Task Maintenance_MinSizeWhileCreationFails_RetriesAfterTheBackOffAndRefills()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.MinSize = 1;
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(100);
            o.MaintenanceInterval = TimeSpan.FromMilliseconds(50);
        });
        await WaitForAsync(() => pool.GetStatistics().Idle == 1);
        policy.FailCreate = _ => new IOException("down");

        (await pool.AcquireAsync()).MarkBrokenAndDispose();
        await WaitForAsync(() => policy.CreateAttempts == 2);
        Assert.Equal(0, pool.GetStatistics().Live);

        policy.FailCreate = null;
        for (int i = 0; i < 4; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(50));
        }

        await WaitForAsync(() => pool.GetStatistics().Idle == 1);
        Assert.Equal(3, policy.CreateAttempts);
    }

    internal static async Task WaitForAsync(Func<bool> condition)
    {
        // Background work (maintenance) completes on the thread pool; poll it with a real-time bound.
        using var cts = new CancellationTokenSource(s_testTimeout);
        while (!condition())
        {
            await Task.Delay(1, cts.Token);
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current = Volatile.Read(ref target);
        while (value > current)
        {
            int seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
