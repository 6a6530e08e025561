using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary>Asynchronous resets and validations: bounded, never canceled by a caller who stops waiting, and logged (issue 13, defects 3, 4 and 7).</summary>
public sealed class ConnectionPoolChecksTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Validation and reset run until their token is canceled (or, with <see cref="IgnoreToken"/>, until released), counting what they saw.</summary>
    private sealed class HangingChecksPolicy : ResourcePolicy<FakeResource>
    {
        private int _created;
        private int _destroyed;

        public bool HangValidation { get; set; }

        public bool HangReset { get; set; }

        public bool IgnoreToken { get; set; }

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Created => Volatile.Read(ref _created);

        public int Destroyed => Volatile.Read(ref _destroyed);

        public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) =>
            new(new FakeResource(Interlocked.Increment(ref _created)));

        public override ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken) =>
            HangValidation ? HangAsync(cancellationToken) : new(!resource.Invalid);

        public override ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken) =>
            HangReset ? HangAsync(cancellationToken) : new(true);

        public override ValueTask DestroyAsync(FakeResource resource)
        {
            resource.Destroyed = true;
            Interlocked.Increment(ref _destroyed);
            return default;
        }

        private async ValueTask<bool> HangAsync(CancellationToken cancellationToken)
        {
            await (IgnoreToken ? Release.Task : Release.Task.WaitAsync(cancellationToken));
            return true;
        }
    }

    [Fact]
    public async Task TryAcquire_BackgroundValidationHangs_IsCanceledAtValidationTimeoutAndTheSlotFreed()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var policy = new HangingChecksPolicy();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 1, ValidationTimeout = TimeSpan.FromSeconds(1), DisposeTimeout = TimeSpan.Zero }, timeProvider: time);
        (await pool.AcquireAsync()).Dispose();
        time.Advance(TimeSpan.FromSeconds(1)); // beyond the bypass window
        policy.HangValidation = true;

        Assert.False(pool.TryAcquire(out _)); // the validation went asynchronous
        Assert.Equal(1, pool.GetStatistics().Leased);
        time.Advance(TimeSpan.FromSeconds(1));

        // Issue 13, defect 3: the validation got no token and kept the slot for as long as it liked.
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().Live == 0);
        Assert.Equal(1, policy.Destroyed);
    }

    [Fact]
    public async Task TryAcquire_StaleResourceFailsSynchronousValidation_LogsValidationFailed()
    {
        var logs = new FakeLogCollector();
        using var loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(logs)));
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var pool = new ConnectionPool<FakeResource>(new FakePolicy(), new ConnectionPoolOptions { MaxSize = 1, DisposeTimeout = TimeSpan.Zero }, loggerFactory, timeProvider: time);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        lease.Resource.Invalid = true;
        lease.Dispose();
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(pool.TryAcquire(out _));

        Assert.Contains(logs.GetSnapshot(), r => r.Id.Id == PoolEventIds.ValidationFailed);
    }

    [Fact]
    public async Task ReturnAsync_CallerStopsWaitingForTheReset_TheResetGoesOnAndTheResourceIsKept()
    {
        // Issue 13, defect 4: the caller's token canceled the reset itself, and the resource was destroyed.
        var policy = new HangingChecksPolicy { HangReset = true };
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 1 });
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        using var cts = new CancellationTokenSource();

        ValueTask returning = pool.ReturnAsync(lease, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => returning.AsTask().WaitAsync(s_testTimeout));

        policy.Release.SetResult();
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().Idle == 1);
        Assert.Equal(0, policy.Destroyed);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reset_NeverCompletes_IsBoundedByResetTimeoutAndTheSlotsServeAgain(bool ignoreToken)
    {
        // Issue 13, defect 7: a reset that only ended when canceled held its slot forever; MaxSize 2, after two
        // returns every later acquire timed out. The default ResetTimeout (10 s) bounds it now.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var policy = new HangingChecksPolicy { HangReset = true, IgnoreToken = ignoreToken };
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 2, AcquireTimeout = TimeSpan.FromSeconds(30), DisposeTimeout = TimeSpan.Zero }, timeProvider: time);
        PoolLease<FakeResource> a = await pool.AcquireAsync();
        PoolLease<FakeResource> b = await pool.AcquireAsync();
        a.Dispose();
        b.Dispose();
        Assert.Equal(2, pool.GetStatistics().Leased);

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
        for (int i = 0; i < 12 && !acquire.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10);
        }

        using PoolLease<FakeResource> lease = await acquire.WaitAsync(s_testTimeout);
        Assert.Equal(3, policy.Created);
        PoolStatistics stats = pool.GetStatistics();
        Assert.True(stats.Live <= 2);
        // Abandoned resets are counted abandoned, and destroyed only once DestroyAsync has run.
        Assert.Equal(ignoreToken ? 0 : 2, stats.DestroyedBy.ResetFailed);
        Assert.Equal(ignoreToken ? 0 : 2, stats.TotalDestroyed);
        Assert.Equal(ignoreToken ? 2 : 0, stats.TotalAbandoned);
        Assert.Equal(ignoreToken ? 2 : 0, stats.AbandonedRunning);
        policy.Release.SetResult();
        await ConnectionPoolCreationTests.WaitForAsync(() => policy.Destroyed == 2);
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().AbandonedRunning == 0);
        Assert.Equal(2, pool.GetStatistics().DestroyedBy.ResetFailed);
        Assert.Equal(2, pool.GetStatistics().TotalDestroyed);
    }

    [Fact]
    public async Task Reset_HungResetsIgnoringTheirTokens_LiveResourcesPlusAbandonedNeverExceedTwiceMaxSize()
    {
        // Issue 19, defect 8: five hung resets with MaxSize 1 left five resources alive.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var policy = new HangingChecksPolicy { HangReset = true, IgnoreToken = true };
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { MaxSize = 1, ResetTimeout = TimeSpan.FromSeconds(1), AcquireTimeout = TimeSpan.FromSeconds(30), DisposeTimeout = TimeSpan.Zero }, timeProvider: time);
        int maxAlive = 0;
        int served = 0;
        Task<PoolLease<FakeResource>>? acquire = null;
        for (int round = 0; round < 5; round++)
        {
            acquire = pool.AcquireAsync().AsTask();
            for (int i = 0; i < 40 && !acquire.IsCompleted; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(500));
                await Task.Delay(5);
                maxAlive = Math.Max(maxAlive, policy.Created - policy.Destroyed);
            }

            if (!acquire.IsCompleted)
            {
                break;
            }

            (await acquire).Dispose();
            acquire = null;
            served++;
            maxAlive = Math.Max(maxAlive, policy.Created - policy.Destroyed);
        }

        // The first hung reset is abandoned (budget MaxSize = 1); the next one waits: callers wait, as with Npgsql.
        Assert.Equal(2, served);
        Assert.InRange(maxAlive, 1, 2);
        Assert.Equal(1, pool.GetStatistics().TotalAbandoned);
        // Once the hung work ends, the caller that waited is served.
        policy.HangReset = false;
        policy.Release.SetResult();
        using PoolLease<FakeResource> after = await acquire!.WaitAsync(s_testTimeout);
        await ConnectionPoolCreationTests.WaitForAsync(() => pool.GetStatistics().AbandonedRunning == 0);
        Assert.Equal(2, policy.Destroyed);
    }
}
