using System.Collections.Concurrent;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Concurrency;

/// <summary>
/// The two orderings of the creation protocol that only matter in a narrow interleaving, each forced with the pool's
/// test hooks (see "No surplus creation" in <see cref="ConnectionPool{T}"/>'s remarks and <c>StartCreationsForWaiters</c>).
/// Each test was watched to fail with its guard removed.
/// </summary>
public sealed class CreationInterleavingTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task FinishedCreationReleased_NewcomerArrivingBeforeItIsIdle_WaitsForItInsteadOfCreatingAnother()
    {
        // Guard: FinishCreation releases the new resource before it gives the creation permit back (_creating). A
        // newcomer that sees nobody waiting and nothing idle creates only if nothing is on its way; while the permit
        // is held it sees this creation on its way, queues, and gets the resource. Given back first, the newcomer sees
        // nothing on its way and creates a second resource: a surplus creation.
        await using ConnectionPool<FakeResource> pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.CreateGate = _ => gate.Task;
        using var cts = new CancellationTokenSource();
        Task<PoolLease<FakeResource>> gaveUp = pool.AcquireAsync(cts.Token).AsTask();
        Assert.Equal(1, pool.GetStatistics().Creating);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUp.WaitAsync(s_testTimeout));

        // The creation goes on, the pool's own now; nobody waits for it. A creation started from here on completes at once.
        policy.CreateGate = null;
        Task<PoolLease<FakeResource>>? newcomer = null;
        var hookRan = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.TestHookBeforePublishIdle = () =>
        {
            // The finished creation saw nobody waiting and is about to publish its slot as idle.
            pool.TestHookBeforePublishIdle = null;
            newcomer = pool.AcquireAsync().AsTask();
            hookRan.SetResult();
        };
        gate.SetResult();
        await hookRan.Task.WaitAsync(s_testTimeout);

        using PoolLease<FakeResource> lease = await newcomer!.WaitAsync(s_testTimeout);
        Assert.Equal(1, lease.Resource.Id);
        Assert.Equal(1, policy.CreateAttempts);
        Assert.Equal(1, pool.GetStatistics().Live);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task SlotFreedWhileACreatorHoldsAPermitAndSawThePoolFull_TheFreedSlotIsUsedForTheWaiters()
    {
        // Guard: StartCreationsForWaiters looks at the capacity again after TryReserve answered "full". TryReserve takes
        // a creation permit before it reads the capacity and gives it back when the pool is full; a slot freed in that
        // window runs StartCreationsForWaiters, which holds back because of that permit (the creations in flight seem
        // to cover the waiters). Without the second look nobody uses the freed slot until some later event.
        await using ConnectionPool<FakeResource> pool = PoolFactory.Create(out FakePolicy policy, out _, o =>
        {
            o.MaxSize = 2;
            o.MaxConcurrentCreations = 2;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });
        PoolLease<FakeResource> a = await pool.AcquireAsync();
        PoolLease<FakeResource> b = await pool.AcquireAsync();
        var creations = new ConcurrentQueue<TaskCompletionSource>();
        policy.CreateGate = _ =>
        {
            var creation = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            creations.Enqueue(creation);
            return creation.Task;
        };
        Task<PoolLease<FakeResource>> first = pool.AcquireAsync().AsTask();
        Task<PoolLease<FakeResource>>? second = null;
        bool sawFull = false;
        pool.TestHookAfterCreationPermit = () =>
        {
            // The creator started by b's freed slot holds its permit and has not read the capacity yet: a second
            // waiter arrives, and the creation started for it takes the last slot.
            pool.TestHookAfterCreationPermit = null;
            second = pool.AcquireAsync().AsTask();
        };
        pool.TestHookBeforePermitGivenBack = () =>
        {
            // The creator saw the pool full and still holds its permit: a's slot frees now.
            pool.TestHookBeforePermitGivenBack = null;
            sawFull = true;
            a.MarkBroken();
            a.Dispose();
        };
        Assert.Equal(0, pool.GetStatistics().Creating);

        b.MarkBroken();
        b.Dispose();

        Assert.True(sawFull, "the interleaving was not reached: the creator did not see the pool full while holding a permit");
        PoolStatistics stats = pool.GetStatistics();
        Assert.Equal(2, stats.Waiting);
        Assert.True(stats.Creating == 2, $"two acquirers wait, a slot is free, and only {stats.Creating} creation(s) run: {stats}");

        // Both creations complete and serve both waiters.
        while (creations.TryDequeue(out TaskCompletionSource? creation))
        {
            creation.SetResult();
        }

        using PoolLease<FakeResource> one = await first.WaitAsync(s_testTimeout);
        using PoolLease<FakeResource> two = await second!.WaitAsync(s_testTimeout);
        Assert.NotSame(one.Resource, two.Resource);
        Assert.Equal(4, policy.Created);
    }

    [Fact]
    public async Task ResetEndsWhileAnAcquirerEnqueues_TheIdleSlotGoesToTheWaiterInsteadOfACreation()
    {
        // Guard: StartCreationsForWaiters hands idle slots to waiters before it reserves. The interleaving (found by the
        // contract suite's sequential loop, about once in 12,000 cycles): an asynchronous reset ends and publishes its
        // slot idle, its second look sees nobody waiting; an acquirer that missed the slot enqueues; the reset's tail
        // stops counting the slot as on its way and sees one waiter and nothing returning. Without the guard it creates a
        // second resource, although the waiter's own rescan is about to take the idle one.
        (int leasedId, int created) = await RunResetThatEndsBeforeTheEnqueueAsync((pool, runTail) => pool.TestHookAfterEnqueue = () =>
        {
            // Enqueued, rescan not yet run: the reset's tail runs to its end first.
            pool.TestHookAfterEnqueue = null;
            runTail();
        });

        Assert.Equal(1, leasedId);
        Assert.Equal(1, created);
    }

    [Fact]
    public async Task Stress_SequentialLoopWithAsynchronousReset_UsesOneResource()
    {
        // The statistical form of the test above: before the guard, 16 of 40 runs of 5,000 cycles created a second
        // resource. 20,000 cycles, each returning without waiting for the reset (the next acquire waits for it).
        await using ConnectionPool<FakeResource> pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 4);
        policy.ResetGate = static async () => await Task.Yield();
        for (int i = 0; i < 20_000; i++)
        {
            PoolLease<FakeResource> lease = await pool.AcquireAsync().AsTask().WaitAsync(s_testTimeout);
            lease.Dispose();
        }

        Assert.Equal(1, policy.Created);
    }

    [Fact]
    public async Task OwnCreationFailsBeforeTheAcquirerEnqueues_TheAcquirerGetsThatError()
    {
        // Guard: an acquirer that started a creation for itself finishes it only once it is queued. Found as a hang of
        // the server-stays-down test (about 1 run in 30): the creation failed on another thread before the acquirer
        // enqueued, its failure found nobody to report to, and the acquirer waited for the end of the back-off (forever,
        // on a fake clock) instead of failing with the error of the attempt it caused.
        await using ConnectionPool<FakeResource> pool = PoolFactory.Create(out FakePolicy policy, out _, o =>
        {
            o.CreationBackoffInitial = TimeSpan.FromMilliseconds(200);
            o.CreationBackoffMax = TimeSpan.FromMilliseconds(200);
        });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.CreateGate = _ => gate.Task;
        pool.TestHookBeforeEnqueue = () =>
        {
            pool.TestHookBeforeEnqueue = null;
            gate.SetException(new IOException("connection refused"));

            // Give the failure every chance to be handled before the enqueue (it is, without the guard). The acquirer runs
            // on a dedicated thread, so the failure's continuations run on the thread pool meanwhile.
            SpinWait.SpinUntil(() => pool.GetStatistics().Creating == 0, TimeSpan.FromMilliseconds(500));
        };

        IOException error = await Assert.ThrowsAsync<IOException>(() => AcquireOnOwnThreadAsync(pool));

        Assert.Equal("connection refused", error.Message);
        Assert.Equal(1, policy.CreateAttempts);
    }

    [Fact]
    public async Task ResetEndsBetweenTheAcquirersScanAndItsDecision_TheAcquirerWaitsForItInsteadOfCreating()
    {
        // Guard: an acquirer reads "is anything on its way" before it scans. A reset releases its slot before it stops
        // counting as on its way; read after the scan, a reset that ended in between is neither seen idle nor counted,
        // and the acquirer creates a second resource for a sequential caller.
        await using ConnectionPool<FakeResource> pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        PoolLease<FakeResource> first = await pool.AcquireAsync().AsTask().WaitAsync(s_testTimeout);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.ResetGate = () => resetGate.Task;
        first.Dispose();
        Assert.Equal(1, pool.GetStatistics().Returning);

        pool.TestHookBeforeOwnCreation = () =>
        {
            // The acquirer scanned while the slot was still resetting; now the reset ends completely.
            pool.TestHookBeforeOwnCreation = null;
            resetGate.SetResult();
            Assert.True(SpinWait.SpinUntil(() => pool.GetStatistics().Returning == 0, s_testTimeout), "the reset did not end");
        };

        PoolLease<FakeResource> lease = await AcquireOnOwnThreadAsync(pool);

        Assert.Equal(1, lease.Resource.Id);
        Assert.Equal(1, policy.Created);
        policy.ResetGate = null;
        await pool.ReturnAsync(lease);
    }

    [Fact]
    public async Task ResetTailRunsWhileAWaitersRescanHoldsTheSlot_NoCreationStarts()
    {
        // Guard: a slot a waiter's rescan holds in transit counts as on its way (in _returning, from before the rescan
        // wins it). Here the reset kept its resource (published idle, nobody waiting yet); an acquirer enqueues and its
        // rescan wins the slot, and before the rescan hands it over (the waiter is still queued) the reset's tail runs
        // the creation decision. Without the guard the decision sees one waiter, nothing returning and nothing idle, and
        // creates a second resource for a sequential caller.
        (int leasedId, int created) = await RunResetThatEndsBeforeTheEnqueueAsync((pool, runTail) => pool.TestHookIdleSlotWonForWaiters = () =>
        {
            // The rescan owns the slot and is still queued: the reset's tail runs to its end now.
            pool.TestHookIdleSlotWonForWaiters = null;
            runTail();
        });

        Assert.Equal(1, leasedId);
        Assert.Equal(1, created);
    }

    /// <summary>
    /// A sequential caller's second acquire against its own first lease's asynchronous reset: the acquirer finds the slot
    /// still resetting and decides not to create; then the reset ends, publishes the slot idle (nobody waits yet) and
    /// stops before its tail; the acquirer goes on to the point <paramref name="holdAcquirerAt"/> installs a hook at,
    /// where the hook's action lets the reset's tail run to its end before the acquirer continues.
    /// </summary>
    /// <returns>The id of the resource the acquire got and how many resources the pool created.</returns>
    private static async Task<(int LeasedId, int Created)> RunResetThatEndsBeforeTheEnqueueAsync(Action<ConnectionPool<FakeResource>, Action> holdAcquirerAt)
    {
        await using ConnectionPool<FakeResource> pool = PoolFactory.Create(out FakePolicy policy, out _, o => o.MaxSize = 2);
        PoolLease<FakeResource> first = await pool.AcquireAsync().AsTask().WaitAsync(s_testTimeout);
        var resetGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        policy.ResetGate = () => resetGate.Task;
        Task returned = pool.ReturnAsync(first).AsTask();

        using var tailReached = new ManualResetEventSlim();
        using var acquirerHeld = new ManualResetEventSlim();
        pool.TestHookBeforeEnqueue = () =>
        {
            pool.TestHookBeforeEnqueue = null;
            resetGate.SetResult();
            Assert.True(tailReached.Wait(s_testTimeout), "the reset did not reach its tail");
        };
        pool.TestHookBeforeCheckTail = () =>
        {
            pool.TestHookBeforeCheckTail = null;
            tailReached.Set();
            Assert.True(acquirerHeld.Wait(s_testTimeout), "the acquirer did not reach the point under test");
        };
        holdAcquirerAt(pool, () =>
        {
            acquirerHeld.Set();
            Assert.True(returned.Wait(s_testTimeout), "the reset's tail did not end");
        });

        PoolLease<FakeResource> lease = await AcquireOnOwnThreadAsync(pool);
        (int, int) outcome = (lease.Resource.Id, policy.Created);
        policy.ResetGate = null;
        await pool.ReturnAsync(lease);
        return outcome;
    }

    /// <summary>Starts an acquire on a dedicated thread, so that the pool's continuations run on the thread pool while a test hook blocks the acquirer.</summary>
    private static async Task<PoolLease<FakeResource>> AcquireOnOwnThreadAsync(ConnectionPool<FakeResource> pool)
    {
        var started = new TaskCompletionSource<Task<PoolLease<FakeResource>>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() => started.SetResult(pool.AcquireAsync().AsTask())) { IsBackground = true };
        thread.Start();
        return await (await started.Task.WaitAsync(s_testTimeout)).WaitAsync(s_testTimeout);
    }
}
