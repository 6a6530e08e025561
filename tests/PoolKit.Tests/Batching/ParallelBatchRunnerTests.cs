using Microsoft.Extensions.Time.Testing;
using System.Runtime.CompilerServices;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Batching;

public sealed class ParallelBatchRunnerTests
{
    private static readonly TimeSpan s_testTimeout = TimeSpan.FromSeconds(30);

    private static ConnectionPool<FakeConnection> CreatePool(FakeDatabase database, int maxSize = 8, TimeSpan? acquireTimeout = null) =>
        new(new FakeConnectionPolicy(database), new ConnectionPoolOptions { Name = "batch", MaxSize = maxSize, AcquireTimeout = acquireTimeout ?? TimeSpan.FromSeconds(10) });

    private static ParallelBatchRunner<FakeConnection, FakeTransaction> CreateRunner(IConnectionPool<FakeConnection> pool, Action<BatchRunnerOptions>? configure = null)
    {
        var options = new BatchRunnerOptions { RetryBackoffInitial = TimeSpan.Zero, RetryBackoffMax = TimeSpan.FromMilliseconds(1) };
        configure?.Invoke(options);
        return new ParallelBatchRunner<FakeConnection, FakeTransaction>(pool, new FakeTransactionHandler(), options);
    }

    private static ValueTask Insert(BatchUnit<FakeConnection, FakeTransaction, long> unit, CancellationToken cancellationToken)
    {
        foreach (long key in unit.Items.Span)
        {
            unit.Transaction.Pending.Add(key);
        }

        return default;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(7)]
    public async Task RunAsync_EveryItem_IsCommittedExactlyOnce(int itemsPerTransaction)
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.ItemsPerTransaction = itemsPerTransaction);

        BatchResult result = await runner.RunAsync(LongRange(10_000), Insert).WaitAsync(s_testTimeout);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(10_000, result.Read);
        Assert.Equal(10_000, result.Committed);
        Assert.Equal(0, result.NotStarted);
        Assert.Equal(10_000, db.Rows.Count);
        Assert.All(db.Rows, row => Assert.Equal(1, row.Value));
        Assert.Equal(0, pool.GetStatistics().Leased);
    }

    [Fact]
    public async Task RunAsync_RollbackHangs_AbandonedAfterRollbackTimeoutAndConnectionDestroyed()
    {
        var db = new FakeDatabase();
        var policy = new FakeConnectionPolicy(db);
        await using var pool = new ConnectionPool<FakeConnection>(policy, new ConnectionPoolOptions { Name = "batch", MaxSize = 2 });
        var handler = new FakeTransactionHandler { RollbackHangs = true };
        var time = new FakeTimeProvider();
        var runner = new ParallelBatchRunner<FakeConnection, FakeTransaction>(
            pool,
            handler,
            new BatchRunnerOptions { MaxDegreeOfParallelism = 1, RollbackTimeout = TimeSpan.FromSeconds(5) },
            time);

        Task<BatchResult> run = runner.RunAsync(
            LongRange(3),
            static (unit, ct) => unit.Items.Span[0] == 1 ? throw new PoisonItemException("bad item 1") : Insert(unit, ct));
        while (handler.RollbacksStarted == 0)
        {
            await Task.Delay(1).WaitAsync(s_testTimeout);
        }

        // A frozen server: nothing ends the rollback but its timeout.
        time.Advance(TimeSpan.FromSeconds(4.9));
        await Task.Delay(100);
        Assert.False(run.IsCompleted);

        time.Advance(TimeSpan.FromSeconds(0.1));
        BatchResult result = await run.WaitAsync(s_testTimeout);

        Assert.True(result.StoppedOnFailure, result.ToString());
        Assert.Equal(1, result.Committed);
        Assert.Equal(1, result.Failed);
        Assert.Equal(1, policy.Destroyed);
        Assert.Equal(0, pool.GetStatistics().Leased);
        Assert.Equal([0L], db.Rows.Keys);
    }

    [Fact]
    public async Task RunAsync_IsConnectionBrokenThrows_TheUnitIsRolledBackAndReportedAndTheConnectionNotReused()
    {
        // Issue 19, defect 10: the rollback was skipped (the connection went back with its transaction open) and
        // RunAsync threw instead of returning its report.
        var db = new FakeDatabase();
        var policy = new FakeConnectionPolicy(db);
        await using var pool = new ConnectionPool<FakeConnection>(policy, new ConnectionPoolOptions { Name = "batch", MaxSize = 2 });
        var handler = new FakeTransactionHandler { IsConnectionBrokenThrows = true };
        var runner = new ParallelBatchRunner<FakeConnection, FakeTransaction>(pool, handler, new BatchRunnerOptions { MaxDegreeOfParallelism = 1 });

        BatchResult result = await runner.RunAsync(
            LongRange(3),
            static (unit, ct) => unit.Items.Span[0] == 1 ? throw new PoisonItemException("bad item 1") : Insert(unit, ct)).WaitAsync(s_testTimeout);

        Assert.Equal(1, result.Failed);
        Assert.Equal(1, handler.RollbacksStarted);
        Assert.Equal(1, policy.Destroyed);
        Assert.Equal(0, pool.GetStatistics().Leased);
        Assert.DoesNotContain(1L, db.Rows.Keys);
    }

    [Fact]
    public async Task RunAsync_RollbackRegistersAThrowingCallback_NothingEscapesOnTheTimerAtTheRollbackBound()
    {
        var db = new FakeDatabase();
        await using var pool = new ConnectionPool<FakeConnection>(new FakeConnectionPolicy(db), new ConnectionPoolOptions { Name = "batch", MaxSize = 2 });
        var handler = new FakeTransactionHandler { RollbackHangs = true, RollbackRegistersThrowingCallback = true };
        var time = new FakeTimeProvider();
        var runner = new ParallelBatchRunner<FakeConnection, FakeTransaction>(
            pool,
            handler,
            new BatchRunnerOptions { MaxDegreeOfParallelism = 1, RollbackTimeout = TimeSpan.FromSeconds(5) },
            time);

        Task<BatchResult> run = runner.RunAsync(
            LongRange(3),
            static (unit, ct) => unit.Items.Span[0] == 1 ? throw new PoisonItemException("bad item 1") : Insert(unit, ct));
        while (handler.RollbacksStarted == 0)
        {
            await Task.Delay(1).WaitAsync(s_testTimeout);
        }

        // The bound's timer fires here, on this thread (a fake clock): a callback's exception would surface here.
        Exception? escaped = Record.Exception(() => time.Advance(TimeSpan.FromSeconds(5)));

        Assert.Null(escaped);
        BatchResult result = await run.WaitAsync(s_testTimeout);
        Assert.Equal(1, result.Failed);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    public void Options_RollbackTimeoutNotPositive_RefusedWithTheRule(double seconds)
    {
        var options = new BatchRunnerOptions { RollbackTimeout = TimeSpan.FromSeconds(seconds) };

        string error = Assert.Single(options.Validate(poolMaxSize: 4));
        Assert.StartsWith("RollbackTimeout = ", error, StringComparison.Ordinal);
        Assert.Contains("must be positive", error, StringComparison.Ordinal);
        Assert.Empty(new BatchRunnerOptions { RollbackTimeout = Timeout.InfiniteTimeSpan }.Validate(poolMaxSize: 4));
    }

    [Fact]
    public async Task RunAsync_PoisonItemsInMultiItemUnits_BisectsSoOnlyThePoisonFails()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o =>
        {
            o.ItemsPerTransaction = 16;
            o.FailurePolicy = BatchFailurePolicy.ContinueOnFailure;
        });
        long[] poison = [3, 17, 18, 500, 999];

        BatchResult result = await runner.RunAsync(
            LongRange(1_000),
            (unit, ct) =>
            {
                foreach (long key in unit.Items.Span)
                {
                    if (poison.Contains(key))
                    {
                        throw new PoisonItemException($"bad item {key}");
                    }

                    unit.Transaction.Pending.Add(key);
                }

                return default;
            },
            keySelector: key => $"key-{key}").WaitAsync(s_testTimeout);

        Assert.Equal(5, result.Failed);
        Assert.Equal(995, result.Committed);
        Assert.Equal(995, db.Rows.Count);
        Assert.Equal(poison, result.Failures.Select(f => f.Index).Order());
        Assert.All(result.Failures, f =>
        {
            Assert.Equal($"key-{f.Index}", f.Key);
            Assert.Equal(BatchItemOutcome.Failed, f.Outcome);
            Assert.IsType<PoisonItemException>(f.Exception);
        });
        Assert.DoesNotContain(poison, key => db.Rows.ContainsKey(key));
        Assert.Equal(0, result.Retries);
    }

    [Fact]
    public async Task RunAsync_StopOnFirstFailure_StopsAndTheTableHoldsExactlyTheCommittedItems()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.MaxDegreeOfParallelism = 4);

        BatchResult result = await runner.RunAsync(
            LongRange(100_000),
            (unit, ct) => unit.FirstIndex == 2_000 ? throw new PoisonItemException("bad") : Insert(unit, ct)).WaitAsync(s_testTimeout);

        Assert.True(result.StoppedOnFailure);
        Assert.False(result.Canceled);
        Assert.Equal(1, result.Failed);
        Assert.True(result.Read < 100_000, "the input kept being read after the stop");
        Assert.Equal(result.Read, result.Committed + result.Failed + result.Unknown + result.NotStarted);
        Assert.Equal(result.Committed, db.Rows.Count);
        Assert.Equal(0, pool.GetStatistics().Leased);
    }

    [Fact]
    public async Task RunAsync_ContinueWithMaxFailures_StopsAfterThatMany()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o =>
        {
            o.FailurePolicy = BatchFailurePolicy.ContinueOnFailure;
            o.MaxFailures = 10;
            o.MaxDegreeOfParallelism = 1;
        });

        BatchResult result = await runner.RunAsync(LongRange(10_000), (unit, ct) => unit.FirstIndex % 2 == 0 ? throw new PoisonItemException("bad") : Insert(unit, ct)).WaitAsync(s_testTimeout);

        Assert.True(result.StoppedOnFailure);
        Assert.Equal(10, result.Failed);
        Assert.Equal(result.Committed, db.Rows.Count);
    }

    [Fact]
    public async Task RunAsync_TransientFaults_AreRetriedOnFreshConnectionsUntilEverythingCommits()
    {
        var db = new FakeDatabase();
        var policy = new FakeConnectionPolicy(db);
        await using var pool = new ConnectionPool<FakeConnection>(policy, new ConnectionPoolOptions { Name = "batch", MaxSize = 8 });
        var runner = new ParallelBatchRunner<FakeConnection, FakeTransaction>(pool, new FakeTransactionHandler(), new BatchRunnerOptions { ItemsPerTransaction = 10, RetryBackoffInitial = TimeSpan.Zero, RetryBackoffMax = TimeSpan.Zero, RetryBudget = 100_000, MaxRetriesPerUnit = 20 });

        // One fault in five attempts: with the default 5 retries a unit fails for good with probability 0.2^6, about
        // once in 8 runs of 2,000 units (seen in CI); with 20 retries, 0.2^21.
        var random = new Random(7);
        var gate = new object();

        BatchResult result = await runner.RunAsync(
            LongRange(20_000),
            (unit, ct) =>
            {
                int roll;
                lock (gate)
                {
                    roll = random.Next(10);
                }

                if (roll == 0)
                {
                    throw new TransientDbException("40001 could not serialize access");
                }

                if (roll == 1)
                {
                    unit.Resource.Broken = true;
                    throw new ConnectionLostException("terminating connection");
                }

                return Insert(unit, ct);
            }).WaitAsync(s_testTimeout);

        Assert.True(result.Succeeded, result + " " + string.Join(" | ", result.Failures.Select(f => f.ToString())));
        Assert.Equal(20_000, db.Rows.Count);
        Assert.All(db.Rows, row => Assert.Equal(1, row.Value));
        Assert.InRange(result.Retries, 200, 1_000);
        Assert.True(policy.Destroyed >= 50, $"broken connections were reused: only {policy.Destroyed} destroyed");
    }

    [Fact]
    public async Task RunAsync_CommitOutcomeUnknown_IsReportedNotReplayed()
    {
        var db = new FakeDatabase
        {
            CommitFault = tx => tx.Pending.Contains(42) ? new CommitLostException("connection lost during COMMIT") : null,
        };
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.FailurePolicy = BatchFailurePolicy.ContinueOnFailure);

        BatchResult result = await runner.RunAsync(LongRange(100), Insert).WaitAsync(s_testTimeout);

        Assert.Equal(1, result.Unknown);
        Assert.Equal(99, result.Committed);
        Assert.Equal(0, result.Retries);
        BatchItemFailure unknown = Assert.Single(result.Failures);
        Assert.Equal(42, unknown.Index);
        Assert.Equal(BatchItemOutcome.Unknown, unknown.Outcome);
        Assert.Equal(1, db.Rows[42]);
    }

    [Fact]
    public async Task RunAsync_CommitOutcomeUnknownWithIdempotentOperation_IsRunAgain()
    {
        int lost = 0;
        var db = new FakeDatabase
        {
            CommitFault = tx => tx.Pending.Contains(42) && Interlocked.Increment(ref lost) == 1 ? new CommitLostException("connection lost during COMMIT") : null,
        };
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.IdempotentOperation = true);

        BatchResult result = await runner.RunAsync(LongRange(100), Insert).WaitAsync(s_testTimeout);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal(1, result.Retries);
        Assert.Equal(2, db.Rows[42]);
    }

    [Fact]
    public async Task RunAsync_RetryBudgetSpent_TransientErrorsFailTheirUnits()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o =>
        {
            o.FailurePolicy = BatchFailurePolicy.ContinueOnFailure;
            o.RetryBudget = 3;
            o.MaxDegreeOfParallelism = 1;
        });

        BatchResult result = await runner.RunAsync(LongRange(10), (unit, ct) => throw new TransientDbException("deadlock detected")).WaitAsync(s_testTimeout);

        Assert.Equal(3, result.Retries);
        Assert.Equal(10, result.Failed);
        Assert.All(result.Failures, f => Assert.IsType<TransientDbException>(f.Exception));
    }

    [Fact]
    public async Task RunAsync_PoolExhausted_IsNotRetriedAsTransient()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db, maxSize: 2, acquireTimeout: TimeSpan.FromMilliseconds(50));
        using PoolLease<FakeConnection> a = await pool.AcquireAsync();
        using PoolLease<FakeConnection> b = await pool.AcquireAsync();
        var runner = CreateRunner(pool, o => o.ReservedConnections = 1);

        BatchResult result = await runner.RunAsync(LongRange(5), Insert).WaitAsync(s_testTimeout);

        Assert.Equal(0, result.Retries);
        Assert.Equal(1, result.Failed);
        Assert.IsType<PoolExhaustedException>(Assert.Single(result.Failures).Exception);
        Assert.True(result.StoppedOnFailure);
        Assert.Equal(0, result.Committed);
        Assert.Equal(result.Read, result.Failed + result.NotStarted);
    }

    [Fact]
    public async Task RunAsync_CanceledMidway_ReportsExactlyWhatCommitted()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.ItemsPerTransaction = 10);
        using var cts = new CancellationTokenSource();

        BatchResult result = await runner.RunAsync(
            LongRange(1_000_000),
            async (unit, ct) =>
            {
                if (unit.FirstIndex == 5_000)
                {
                    await cts.CancelAsync();
                }

                await Task.Yield();
                await Insert(unit, ct);
            },
            cancellationToken: cts.Token).WaitAsync(s_testTimeout);

        Assert.True(result.Canceled);
        Assert.False(result.StoppedOnFailure);
        Assert.Equal(result.Committed, db.Rows.Count);
        Assert.Equal(result.Read, result.Committed + result.NotStarted);
        Assert.True(result.Committed >= 4_000 && result.Read < 1_000_000, result.ToString());
    }

    /// <summary>
    /// A handler whose operations commit in their own round trip (IsCommitted): a unit whose operation committed just as
    /// the run was canceled is counted committed, never rolled back and reported not started.
    /// </summary>
    [Fact]
    public async Task RunAsync_OperationCommittedItselfThenCanceled_CountedCommitted()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var handler = new SelfCommittingHandler();
        var runner = new ParallelBatchRunner<FakeConnection, FakeTransaction>(pool, handler, new BatchRunnerOptions { ItemsPerTransaction = 10 });
        using var cts = new CancellationTokenSource();

        BatchResult result = await runner.RunAsync(
            LongRange(1_000_000),
            async (unit, ct) =>
            {
                await Task.Yield();
                await Insert(unit, ct);
                handler.CommitInOperation(unit.Transaction);
                if (unit.FirstIndex == 5_000)
                {
                    await cts.CancelAsync();
                }
            },
            cancellationToken: cts.Token).WaitAsync(s_testTimeout);

        Assert.True(result.Canceled);
        Assert.Equal(db.Rows.Count, result.Committed);
        Assert.Contains(5_000L, db.Rows.Keys);
        Assert.Equal(result.Read, result.Committed + result.NotStarted);
        Assert.Equal(0, handler.CommitsAfterOperation);
    }

    /// <summary>Commits in the operation (as PoolKit.Npgsql's one-round-trip modes do) and tells the runner so.</summary>
    private sealed class SelfCommittingHandler : ITransactionHandler<FakeConnection, FakeTransaction>
    {
        private readonly FakeTransactionHandler _inner = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<FakeTransaction, byte> _committed = new();
        private int _commitsAfterOperation;

        public int CommitsAfterOperation => Volatile.Read(ref _commitsAfterOperation);

        public void CommitInOperation(FakeTransaction transaction)
        {
            transaction.Connection.Database.Commit(transaction);
            _committed[transaction] = 0;
        }

        public bool IsCommitted(FakeTransaction transaction) => _committed.ContainsKey(transaction);

        public ValueTask<FakeTransaction> BeginAsync(FakeConnection resource, CancellationToken cancellationToken) => _inner.BeginAsync(resource, cancellationToken);

        public ValueTask CommitAsync(FakeTransaction transaction, CancellationToken cancellationToken)
        {
            if (!_committed.TryRemove(transaction, out _))
            {
                Interlocked.Increment(ref _commitsAfterOperation);
                return _inner.CommitAsync(transaction, cancellationToken);
            }

            return default;
        }

        public ValueTask RollbackAsync(FakeTransaction transaction, CancellationToken cancellationToken) => _inner.RollbackAsync(transaction, cancellationToken);

        public BatchErrorKind Classify(Exception exception, BatchPhase phase) => _inner.Classify(exception, phase);

        public bool IsConnectionBroken(Exception exception) => _inner.IsConnectionBroken(exception);
    }

    [Fact]
    public async Task RunAsync_CanceledAfterEverythingCommitted_IsNotReportedAsCanceled()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.ProgressInterval = TimeSpan.FromHours(1));
        using var cts = new CancellationTokenSource();

        // The final progress report comes after the work ended: a cancel there stops nothing.
        var progress = new SynchronousProgress(p =>
        {
            if (p.Committed == 100)
            {
                cts.Cancel();
            }
        });
        BatchResult result = await runner.RunAsync(LongRange(100), Insert, progress: progress, cancellationToken: cts.Token).WaitAsync(s_testTimeout);

        Assert.True(cts.IsCancellationRequested);
        Assert.False(result.Canceled);
        Assert.True(result.Succeeded, result.ToString());
    }

    [Fact]
    public async Task RunAsync_FailureBeforeCancellation_IsStillReported()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o =>
        {
            o.FailurePolicy = BatchFailurePolicy.ContinueOnFailure;
            o.MaxDegreeOfParallelism = 1;
        });
        using var cts = new CancellationTokenSource();

        BatchResult result = await runner.RunAsync(
            LongRange(1_000),
            (unit, ct) =>
            {
                if (unit.FirstIndex == 10)
                {
                    throw new PoisonItemException("bad");
                }

                if (unit.FirstIndex == 20)
                {
                    cts.Cancel();
                }

                return Insert(unit, ct);
            },
            cancellationToken: cts.Token).WaitAsync(s_testTimeout);

        Assert.True(result.Canceled);
        Assert.Equal(1, result.Failed);
        Assert.Equal(10, Assert.Single(result.Failures).Index);
        Assert.Equal(19, result.Committed);
    }

    [Fact]
    public async Task RunAsync_Progress_NeverGoesBackwardsAndEndsEqualToTheResult()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.ProgressInterval = TimeSpan.FromMilliseconds(5));
        var reports = new List<BatchProgress>();
        var progress = new SynchronousProgress(p =>
        {
            lock (reports)
            {
                reports.Add(p);
            }
        });

        BatchResult result = await runner.RunAsync(
            LongRange(3_000),
            async (unit, ct) =>
            {
                await Task.Delay(unit.FirstIndex % 100 == 0 ? 1 : 0, ct);
                await Insert(unit, ct);
            },
            progress: progress).WaitAsync(s_testTimeout);

        Assert.True(reports.Count >= 2);
        for (int i = 1; i < reports.Count; i++)
        {
            Assert.True(reports[i].Committed >= reports[i - 1].Committed);
            Assert.True(reports[i].Retried >= reports[i - 1].Retried);
            Assert.True(reports[i].Failed >= reports[i - 1].Failed);
        }

        Assert.Equal(result.Committed, reports[^1].Committed);
        Assert.Equal(0, reports[^1].InFlight);
        Assert.Equal(db.Rows.Count, reports[^1].Committed);
    }

    [Fact]
    public async Task RunAsync_Parallelism_DefaultsToWhatThePoolCanServeAndIsHonored()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db, maxSize: 6);
        var runner = CreateRunner(pool, o => o.ReservedConnections = 2);
        int now = 0, peak = 0;

        await runner.RunAsync(
            LongRange(2_000),
            async (unit, ct) =>
            {
                int current = Interlocked.Increment(ref now);
                int seen;
                while ((seen = Volatile.Read(ref peak)) < current && Interlocked.CompareExchange(ref peak, current, seen) != seen)
                {
                }

                await Task.Delay(1, ct);
                Interlocked.Decrement(ref now);
                await Insert(unit, ct);
            }).WaitAsync(s_testTimeout);

        Assert.Equal(4, runner.MaxDegreeOfParallelism);
        Assert.InRange(peak, 2, 4);
        Assert.True(pool.GetStatistics().Live <= 4);
    }

    [Fact]
    public async Task Constructor_ParallelismAbovePool_IsRefusedNamingTheOption()
    {
        await using var pool = CreatePool(new FakeDatabase(), maxSize: 4);

        var ex = Assert.Throws<ArgumentException>(() => CreateRunner(pool, o =>
        {
            o.MaxDegreeOfParallelism = 8;
            o.ItemsPerTransaction = 0;
        }));

        Assert.Contains("MaxDegreeOfParallelism = 8: must be between 1 and the pool's MaxSize (4) minus ReservedConnections (0) = 4", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ItemsPerTransaction = 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_HugeStreamedInput_IsReadLazilyInBoundedMemory()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db, maxSize: 4);
        var runner = CreateRunner(pool, o => o.ItemsPerTransaction = 100);
        long produced = 0, consumed = 0, maxAhead = 0;

        async IAsyncEnumerable<long> Source([EnumeratorCancellation] CancellationToken ct = default)
        {
            for (long i = 0; i < 2_000_000; i++)
            {
                long ahead = Interlocked.Increment(ref produced) - Interlocked.Read(ref consumed);
                if (ahead > maxAhead)
                {
                    maxAhead = ahead;
                }

                yield return i;
            }

            await Task.CompletedTask;
        }

        BatchResult result = await runner.RunAsync(
            Source(),
            (unit, ct) =>
            {
                Interlocked.Add(ref consumed, unit.Items.Length);
                return default;
            }).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2_000_000, result.Committed);

        // At most the units in flight plus the one being cut are read ahead.
        Assert.True(maxAhead <= (4 + 2) * 100, $"read {maxAhead} items ahead");
    }

    private static IEnumerable<long> LongRange(long count)
    {
        for (long i = 0; i < count; i++)
        {
            yield return i;
        }
    }

    private sealed class SynchronousProgress(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }
    [Fact]
    public async Task RunAsync_ProgressHandlerThrowsOnTheTimer_RunFailsWithItInsteadOfTheTimerThread()
    {
        // Issue 13, defect 9: the exception escaped the timer callback; with TimeProvider.System that ends the process.
        // Here the fake clock runs the callback inside Advance, so an escaping exception would surface there.
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var time = new FakeTimeProvider();
        var runner = new ParallelBatchRunner<FakeConnection, FakeTransaction>(
            pool,
            new FakeTransactionHandler(),
            new BatchRunnerOptions { ProgressInterval = TimeSpan.FromSeconds(1), MaxDegreeOfParallelism = 1 },
            time);
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlerError = new InvalidOperationException("progress handler failed");

        Task<BatchResult> run = runner.RunAsync(
            Enumerable.Range(0, 3).Select(i => (long)i),
            async (unit, ct) =>
            {
                inside.TrySetResult();
                await release.Task.WaitAsync(ct);
                await Insert(unit, ct);
            },
            progress: new SynchronousProgress(_ => throw handlerError));
        await inside.Task.WaitAsync(s_testTimeout);

        time.Advance(TimeSpan.FromSeconds(1)); // must not throw: nothing escapes the timer callback
        release.SetResult();

        InvalidOperationException ex = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitAsync(s_testTimeout));
        Assert.Same(handlerError, ex);
        Assert.True(db.Rows.Count <= 1, "the run stopped after the handler failed");
    }

    private sealed class RecordingObserver : IBatchCommitObserver<long>
    {
        public System.Collections.Concurrent.ConcurrentBag<long> Committed { get; } = [];

        public Func<long, bool>? ThrowAt { get; set; }

        public void OnCommitted(ReadOnlyMemory<long> items, long firstIndex)
        {
            foreach (long item in items.Span)
            {
                Committed.Add(item);
            }

            if (ThrowAt?.Invoke(firstIndex) == true)
            {
                throw new InvalidOperationException("observer failed");
            }
        }
    }

    [Fact]
    public async Task RunAsync_CommitObserver_HearsExactlyTheItemsThatCommitted()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o =>
        {
            o.ItemsPerTransaction = 3;
            o.FailurePolicy = BatchFailurePolicy.ContinueOnFailure;
        });
        var observer = new RecordingObserver();

        BatchResult result = await runner.RunAsync(
            Enumerable.Range(0, 50).Select(i => (long)i),
            (unit, ct) =>
            {
                foreach (long key in unit.Items.Span)
                {
                    if (key == 13)
                    {
                        throw new PoisonItemException("bad item 13");
                    }
                }

                return Insert(unit, ct);
            },
            observer).WaitAsync(s_testTimeout);

        Assert.Equal(49, result.Committed);
        Assert.Equal(db.Rows.Keys.OrderBy(k => k), observer.Committed.OrderBy(k => k));
        Assert.DoesNotContain(13L, observer.Committed);
    }

    [Fact]
    public async Task RunAsync_CommitObserverThrows_RunStopsAndRethrowsIt()
    {
        var db = new FakeDatabase();
        await using var pool = CreatePool(db);
        var runner = CreateRunner(pool, o => o.MaxDegreeOfParallelism = 1);
        var observer = new RecordingObserver { ThrowAt = index => index == 5 };

        InvalidOperationException ex = await Assert.ThrowsAsync<InvalidOperationException>(
            () => runner.RunAsync(Enumerable.Range(0, 1000).Select(i => (long)i), Insert, observer).WaitAsync(s_testTimeout));

        Assert.Equal("observer failed", ex.Message);
        Assert.True(db.Rows.Count < 1000, "the run stopped");
        Assert.Equal(db.Rows.Count, observer.Committed.Count);
    }
}
