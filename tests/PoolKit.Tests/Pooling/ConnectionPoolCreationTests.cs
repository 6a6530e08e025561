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
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(5, policy.CreateAttempts);

        // Within the back-off nobody hammers the server: an acquire waits for the next attempt.
        policy.FailCreate = _ => new IOException("down");
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        Assert.Equal(6, policy.CreateAttempts);
        policy.FailCreate = null;
        time.Advance(TimeSpan.FromSeconds(1));
        await using PoolLease<FakeResource> lease = await waiting.WaitAsync(s_testTimeout);
        Assert.True(lease.IsActive);
        Assert.Equal(7, policy.CreateAttempts);
        Assert.Equal(6, pool.GetStatistics().TotalCreationFailures);
    }

    [Fact]
    public async Task AcquireAsync_ServerBackDuringTheBackOff_WaitsForTheNextAttemptInsteadOfFailingWithTheOldError()
    {
        // Issue 13, defect 8 (first half): an acquire during the back-off used to fail at once with the previous
        // attempt's error, although the server might be back; it now waits for the next attempt.
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(400);
            o.CreationBackoffMax = TimeSpan.FromMilliseconds(400);
        });
        policy.FailCreate = _ => new IOException("connection refused");
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());
        policy.FailCreate = null; // the server is back, inside the back-off

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
        await Task.Delay(50);
        Assert.False(acquire.IsCompleted, "an acquire inside the back-off failed with the old error instead of waiting for the next attempt");
        Assert.Equal(1, policy.CreateAttempts);

        time.Advance(TimeSpan.FromMilliseconds(400));
        using PoolLease<FakeResource> lease = await acquire.WaitAsync(s_testTimeout);
        Assert.True(lease.IsActive);
        Assert.Equal(2, policy.CreateAttempts);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AcquireAsync_ServerStaysDown_EveryCallerGetsTheFreshErrorAndAttemptsAreOneAtATimeSpacedByTheBackOff(bool failAsynchronously)
    {
        // Issue 13, defect 8 (second half): while the server stays down, callers still get the real error, from an
        // attempt that ended after they began, and the server sees one attempt per back-off period.
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.MaxConcurrentCreations = 4;
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(200);
            o.CreationBackoffMax = TimeSpan.FromMilliseconds(200);
        });
        policy.FailCreate = attempt => new IOException($"connection refused (attempt {attempt})");
        policy.FailAsynchronously = failAsynchronously;
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());

        for (int round = 2; round <= 4; round++)
        {
            Task<PoolLease<FakeResource>>[] callers = Enumerable.Range(0, 5).Select(_ => pool.AcquireAsync().AsTask()).ToArray();
            Assert.All(callers, c => Assert.False(c.IsCompleted));
            Assert.Equal(round - 1, policy.CreateAttempts);

            time.Advance(TimeSpan.FromMilliseconds(200));
            foreach (Task<PoolLease<FakeResource>> caller in callers)
            {
                Exception ex = await Assert.ThrowsAnyAsync<Exception>(() => caller.WaitAsync(s_testTimeout));
                Exception real = ex is ResourceCreationException { InnerException: { } inner } ? inner : ex;
                Assert.Equal($"connection refused (attempt {round})", real.Message);
            }

            // One attempt for five callers.
            Assert.Equal(round, policy.CreateAttempts);
        }
    }

    [Fact]
    public async Task AcquireAsync_PermanentCreationError_LaterAcquirersFailAtOnceAndOneAttemptPerBackOffStillRuns()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromSeconds(1);
            o.CreationBackoffMax = TimeSpan.FromSeconds(1);
        });
        policy.FailCreate = _ => new InvalidOperationException("password authentication failed");
        policy.PermanentError = e => e is InvalidOperationException;

        var first = await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
        Assert.Equal(1, policy.CreateAttempts);

        // During the back-off: at once, without an attempt, with a stable message and the cause inside.
        ValueTask<PoolLease<FakeResource>> second = pool.AcquireAsync();
        Assert.True(second.IsFaulted);
        var fast = await Assert.ThrowsAsync<ResourceCreationException>(async () => await second);
        var again = await Assert.ThrowsAsync<ResourceCreationException>(async () => await pool.AcquireAsync());
        Assert.Same(first, fast.InnerException);
        Assert.Equal(fast.Message, again.Message);
        Assert.Contains("retrying cannot fix", fast.Message, StringComparison.Ordinal);
        Assert.Equal(1, policy.CreateAttempts);
        Assert.Equal(0, pool.GetStatistics().Waiting);

        // After the back-off one attempt runs; once the cause is fixed the pool recovers.
        time.Advance(TimeSpan.FromSeconds(1));
        policy.FailCreate = null;
        using PoolLease<FakeResource> lease = await pool.AcquireAsync();
        Assert.Equal(2, policy.CreateAttempts);
    }

    [Fact]
    public async Task AcquireAsync_ServerBackWhileTheBackOffIsLong_ANewAcquirerAfterAQuietPeriodTriesAtOnce()
    {
        // Issue 19, defect 13: after a failover the first attempt at the new primary waited out a back-off of up to 2 s.
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(100);
            o.CreationBackoffMax = TimeSpan.FromSeconds(2);
        });
        policy.FailCreate = _ => new InvalidOperationException("connection refused");
        for (int i = 0; i < 6; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
            time.Advance(TimeSpan.FromSeconds(2));
        }

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
        int attempts = policy.CreateAttempts;

        // The server is back; the back-off now runs for 1 to 2 s. A new acquirer 100 ms after the last attempt tries.
        policy.FailCreate = null;
        time.Advance(TimeSpan.FromMilliseconds(100));
        ValueTask<PoolLease<FakeResource>> acquire = pool.AcquireAsync();

        Assert.True(acquire.IsCompletedSuccessfully);
        Assert.Equal(attempts + 1, policy.CreateAttempts);
        (await acquire).Dispose();
    }

    [Fact]
    public async Task AcquireAsync_ServerBackWhileAnAcquirerWaitsOutALongBackOff_ItIsServedWithinTheInitialDelay()
    {
        // Issue 19, defect 13: an acquirer that queued right after a failed attempt (the writer loop of an application
        // retrying the error it just got) waited for the end of a back-off of up to 2 s, although the server (a
        // failover's new primary) was back long before: it now tries once the initial delay has passed.
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(100);
            o.CreationBackoffMax = TimeSpan.FromSeconds(2);
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });
        policy.FailCreate = _ => new InvalidOperationException("connection refused");
        for (int i = 0; i < 6; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
            time.Advance(TimeSpan.FromSeconds(2));
        }

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
        int attempts = policy.CreateAttempts;

        // 5 ms later the application retries: within the initial delay, so it waits. The back-off runs 1 to 2 s.
        time.Advance(TimeSpan.FromMilliseconds(5));
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        Assert.False(waiting.IsCompleted);
        Assert.Equal(attempts, policy.CreateAttempts);

        policy.FailCreate = null;
        time.Advance(TimeSpan.FromMilliseconds(95));
        using PoolLease<FakeResource> lease = await waiting.WaitAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(attempts + 1, policy.CreateAttempts);
    }

    [Fact]
    public async Task AcquireAsync_ServerStillDownWhileAcquirersWait_AtMostOneAttemptPerInitialDelay()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(100);
            o.CreationBackoffMax = TimeSpan.FromSeconds(2);
            o.AcquireTimeout = TimeSpan.FromSeconds(30);
        });
        policy.FailCreate = _ => new InvalidOperationException("connection refused");
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
        int attempts = policy.CreateAttempts;

        // An application retrying every 5 ms for 2 s: every retry that waits is failed by the next attempt, which
        // starts at most once per initial delay.
        var retries = new List<Task<PoolLease<FakeResource>>>();
        for (int i = 0; i < 400; i++)
        {
            retries.Add(pool.AcquireAsync().AsTask());
            time.Advance(TimeSpan.FromMilliseconds(5));
        }

        Assert.InRange(policy.CreateAttempts - attempts, 1, 20);
        time.Advance(TimeSpan.FromSeconds(2));
        foreach (Task<PoolLease<FakeResource>> retry in retries)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => retry.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task AcquireAsync_ServerStillDown_NewAcquirersProbeAtMostOncePerInitialBackOff()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(100);
            o.CreationBackoffMax = TimeSpan.FromSeconds(2);
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
        });
        policy.FailCreate = _ => new InvalidOperationException("connection refused");
        for (int i = 0; i < 6; i++)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
            time.Advance(TimeSpan.FromSeconds(2));
        }

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
        int attempts = policy.CreateAttempts;

        // Ten acquirers within 50 ms of the last attempt: none of them makes another.
        var waiting = new List<Task<PoolLease<FakeResource>>>();
        for (int i = 0; i < 10; i++)
        {
            waiting.Add(pool.AcquireAsync().AsTask());
            time.Advance(TimeSpan.FromMilliseconds(5));
        }

        Assert.Equal(attempts, policy.CreateAttempts);
        time.Advance(TimeSpan.FromSeconds(3));
        foreach (Task<PoolLease<FakeResource>> w in waiting)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => w.WaitAsync(TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task AcquireAsync_TransientCreationError_LaterAcquirersWaitForTheNextAttempt()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromSeconds(1);
            o.CreationBackoffMax = TimeSpan.FromSeconds(1);
        });
        policy.FailCreate = _ => new InvalidOperationException("connection refused");

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await pool.AcquireAsync());
        ValueTask<PoolLease<FakeResource>> second = pool.AcquireAsync();

        Assert.False(second.IsCompleted);
        policy.FailCreate = null;
        time.Advance(TimeSpan.FromSeconds(1));
        using PoolLease<FakeResource> lease = await second.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
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
        Assert.Contains("could not create more in time", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("password authentication failed", ex.Message, StringComparison.Ordinal);
        Assert.StartsWith("password authentication failed", Assert.IsType<IOException>(ex.InnerException).Message, StringComparison.Ordinal);
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
        // The creations are the pool's: every acquirer queues, and the first two resources go to the first two.
        Assert.Equal(2, pool.GetStatistics().Creating);
        Assert.Equal(8, pool.GetStatistics().Waiting);
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
    public async Task AcquireAsync_CreationHangs_CallerFailsAtItsDeadlineAndTheCreationIsCanceledAtItsBound()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out var time, o => o.AcquireTimeout = TimeSpan.FromSeconds(2));
        policy.CreateGate = ct => Task.Delay(Timeout.Infinite, ct);

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
        Assert.Equal(1, pool.GetStatistics().Creating);
        time.Advance(TimeSpan.FromSeconds(2));

        // Both the caller's deadline and the creation's bound are at 2 s: the caller fails with either, at 2 s.
        Exception ex = await Assert.ThrowsAnyAsync<Exception>(() => acquire.WaitAsync(s_testTimeout));
        Assert.True(ex is PoolExhaustedException or ResourceCreationException, ex.ToString());
        if (ex is PoolExhaustedException exhausted)
        {
            Assert.Equal(TimeSpan.FromSeconds(2), exhausted.AcquireTimeout);
        }
        else
        {
            Assert.Contains("AcquireTimeout = 2000 ms", ex.Message, StringComparison.Ordinal);
        }

        await WaitForAsync(() => pool.GetStatistics().Live == 0);
        Assert.Equal(1, pool.GetStatistics().TotalCreationFailures);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task AcquireAsync_CanceledDuringCreation_FailsAtOnceAndTheCreationGoesIdleWithoutBackOff()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.CreateGate = _ => gate.Task;
        using var cts = new CancellationTokenSource();

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync(cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquire.WaitAsync(s_testTimeout));
        Assert.Equal(1, pool.GetStatistics().Creating);
        gate.SetResult();
        await WaitForAsync(() => pool.GetStatistics().Idle == 1);
        Assert.Equal(0, pool.GetStatistics().TotalCreationFailures);
        Assert.Equal(1, pool.GetStatistics().TotalAcquiresCanceled);
        policy.CreateGate = null;
        using PoolLease<FakeResource> lease = await pool.AcquireAsync();
        Assert.Equal(1, policy.Created);
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
