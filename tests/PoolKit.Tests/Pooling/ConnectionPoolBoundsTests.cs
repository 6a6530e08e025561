using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

/// <summary>The pool's own bounds on the policy's work: creation, validation, reset and destruction.</summary>
public sealed class ConnectionPoolBoundsTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task CreateAsync_ThrowingCallbackOnTheBoundsToken_DoesNotEscapeOnTheTimer()
    {
        var policy = new ScriptedPolicy { CreateHangs = true, ThrowingCallbacks = true };
        var time = new FakeTimeProvider();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 1, AcquireTimeout = TimeSpan.FromSeconds(1), DisposeTimeout = TimeSpan.Zero }, timeProvider: time);

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
        Exception? escaped = Record.Exception(() => time.Advance(TimeSpan.FromSeconds(1)));

        Assert.Null(escaped);
        await Assert.ThrowsAnyAsync<Exception>(() => acquire.WaitAsync(s_testTimeout));
    }

    [Fact]
    public async Task AcquireAsync_ThrowingCallbackOnTheValidationBoundsToken_DoesNotEscapeOnTheTimer()
    {
        var policy = new ScriptedPolicy { ThrowingCallbacks = true };
        var time = new FakeTimeProvider();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 1, ValidationTimeout = TimeSpan.FromSeconds(1), DisposeTimeout = TimeSpan.Zero }, timeProvider: time);
        (await pool.AcquireAsync()).Dispose();
        time.Advance(TimeSpan.FromSeconds(5));
        policy.ValidateHangs = true;

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
        Exception? escaped = Record.Exception(() => time.Advance(TimeSpan.FromSeconds(1)));

        Assert.Null(escaped);
        Assert.True(SpinWait.SpinUntil(() => policy.ValidationsCanceled == 1, s_testTimeout));
        policy.ValidateHangs = false;
        time.Advance(TimeSpan.FromSeconds(1));
        using PoolLease<FakeResource> lease = await acquire.WaitAsync(s_testTimeout);
    }

    [Fact]
    public async Task AcquireAsync_OwnValidationIgnoresItsToken_IsAbandonedAtItsBoundAndTheSlotServesAgain()
    {
        var policy = new ScriptedPolicy();
        var time = new FakeTimeProvider();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 1, ValidationTimeout = TimeSpan.FromSeconds(1), AcquireTimeout = TimeSpan.FromSeconds(30), DisposeTimeout = TimeSpan.Zero }, timeProvider: time);
        (await pool.AcquireAsync()).Dispose();
        time.Advance(TimeSpan.FromSeconds(5));
        policy.ValidateHangs = true;
        policy.IgnoreTokens = true;

        Task<PoolLease<FakeResource>> acquire = pool.AcquireAsync().AsTask();
        policy.ValidateHangs = false;

        // The bound (1 s) and the grace (a tenth of it) pass; nothing else happens.
        for (int i = 0; i < 40 && !acquire.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(5);
        }

        using PoolLease<FakeResource> lease = await acquire.WaitAsync(s_testTimeout);
        Assert.Equal(2, policy.CreatedCount);
        Assert.Equal(1, pool.GetStatistics().TotalAbandoned);
    }

    [Fact]
    public async Task AcquireAsync_CreationIgnoresItsToken_IsGivenUpAtItsBoundAndLaterAcquirersCreate()
    {
        // Issue 19, defect 4: it counted as "on its way" for ever, so lone acquirers queued behind it.
        var policy = new ScriptedPolicy { CreateHangs = true, IgnoreTokens = true };
        var time = new FakeTimeProvider();
        await using var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "t", MaxSize = 4, AcquireTimeout = TimeSpan.FromSeconds(1), DisposeTimeout = TimeSpan.Zero }, timeProvider: time);

        Task<PoolLease<FakeResource>> first = pool.AcquireAsync().AsTask();
        policy.CreateHangs = false;
        for (int i = 0; i < 20 && pool.GetStatistics().Creating != 0; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(5);
        }

        await Assert.ThrowsAnyAsync<Exception>(() => first.WaitAsync(s_testTimeout));
        Assert.Equal(0, pool.GetStatistics().Creating);
        Assert.Equal(1, pool.GetStatistics().TotalAbandoned);
        Assert.Equal(1, pool.GetStatistics().AbandonedRunning);

        // Five lone acquirers in a row, each served at once by a creation of its own or the idle one.
        time.Advance(TimeSpan.FromSeconds(5)); // past the creation back-off
        for (int i = 0; i < 5; i++)
        {
            ValueTask<PoolLease<FakeResource>> acquire = pool.AcquireAsync();
            Assert.True(acquire.IsCompletedSuccessfully, $"acquire {i} was not served at once");
            (await acquire).Dispose();
        }
    }

    /// <summary>A policy whose creations and validations can hang until canceled, and register throwing callbacks on their tokens.</summary>
    internal sealed class ScriptedPolicy : ResourcePolicy<FakeResource>
    {
        private int _nextId;
        private int _validationsCanceled;

        public bool CreateHangs { get; set; }

        public bool ValidateHangs { get; set; }

        public bool ThrowingCallbacks { get; set; }

        /// <summary>A hanging creation or validation ignores its token: it never ends.</summary>
        public bool IgnoreTokens { get; set; }

        public int CreatedCount => Volatile.Read(ref _nextId);

        public int ValidationsCanceled => Volatile.Read(ref _validationsCanceled);

        public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken)
        {
            if (!CreateHangs)
            {
                return new(new FakeResource(Interlocked.Increment(ref _nextId)));
            }

            return new(HangAsync<FakeResource>(null, cancellationToken));
        }

        public override ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            resource.ValidateCount++;
            return ValidateHangs ? new(HangAsync<bool>(() => Interlocked.Increment(ref _validationsCanceled), cancellationToken)) : new(true);
        }

        private Task<TResult> HangAsync<TResult>(Action? onCanceled, CancellationToken cancellationToken)
        {
            var done = new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (ThrowingCallbacks)
            {
                cancellationToken.Register(static () => throw new InvalidOperationException("a policy's callback that throws"));
            }

            if (IgnoreTokens)
            {
                return done.Task;
            }

            cancellationToken.Register(() =>
            {
                onCanceled?.Invoke();
                done.TrySetCanceled(cancellationToken);
            });
            return done.Task;
        }
    }
}
