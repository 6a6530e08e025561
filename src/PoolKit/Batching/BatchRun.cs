using System.Collections.Concurrent;

namespace PoolKit.Internal;

/// <summary>The state and the work of one <see cref="ParallelBatchRunner{TResource, TTransaction}"/> run.</summary>
/// <remarks>
/// <para><b>Concurrency.</b> Units run on up to MaxDegreeOfParallelism workers. The counters are changed only
/// with Interlocked and only grow (except <see cref="_inFlight"/>). Accounting invariant, exact once the run has
/// ended: <c>read = committed + failed + unknown + notStarted</c>, where an item is counted in committed, failed
/// or unknown exactly once, by the worker that settled its unit, and not-started is the remainder.
/// <see cref="_stop"/> is canceled by the caller's token or by the failure policy; workers observe it.</para>
/// </remarks>
internal sealed class BatchRun<TResource, TTransaction, TItem> : IDisposable
    where TResource : class
{
    private readonly IConnectionPool<TResource> _pool;
    private readonly ITransactionHandler<TResource, TTransaction> _handler;
    private readonly BatchRunnerOptions _options;
    private readonly TimeProvider _time;
    private readonly Func<BatchUnit<TResource, TTransaction, TItem>, CancellationToken, ValueTask> _operation;
    private readonly Func<TItem, object?>? _keySelector;
    private readonly IProgress<BatchProgress>? _progress;
    private readonly IBatchCommitObserver<TItem>? _observer;
    private readonly int _parallelism;
    private readonly ConcurrentQueue<BatchItemFailure> _failures = new();
    private readonly object _progressLock = new();
    private readonly CancellationTokenSource _stop = new();

    private long _read;
    private long _committed;
    private long _failed;
    private long _unknown;
    private long _retries;
    private long _inFlight;
    private int _retryBudget;
    private int _recordedFailures;
    private int _stoppedOnFailure;
    private long _start;

    /// <summary>The first exception the caller's progress handler or commit observer threw; it stops the run and is rethrown by <see cref="RunAsync"/>. Set once by CAS.</summary>
    private Exception? _callbackError;

    public BatchRun(
        IConnectionPool<TResource> pool,
        ITransactionHandler<TResource, TTransaction> handler,
        BatchRunnerOptions options,
        TimeProvider time,
        Func<BatchUnit<TResource, TTransaction, TItem>, CancellationToken, ValueTask> operation,
        Func<TItem, object?>? keySelector,
        IProgress<BatchProgress>? progress,
        IBatchCommitObserver<TItem>? observer,
        int parallelism)
    {
        _pool = pool;
        _handler = handler;
        _options = options;
        _time = time;
        _operation = operation;
        _keySelector = keySelector;
        _progress = progress;
        _observer = observer;
        _parallelism = parallelism;
        _retryBudget = options.RetryBudget;
    }

    public async Task<BatchResult> RunAsync(IAsyncEnumerable<TItem> items, CancellationToken cancellationToken)
    {
        _start = _time.GetTimestamp();
        using CancellationTokenRegistration link = cancellationToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _stop);
        ITimer? timer = null;
        bool canceled = false;
        if (_progress is not null)
        {
            using (ExecutionContext.SuppressFlow())
            {
                timer = _time.CreateTimer(static s => ((BatchRun<TResource, TTransaction, TItem>)s!).ReportProgress(), this, _options.ProgressInterval, _options.ProgressInterval);
            }
        }

        try
        {
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = _parallelism, CancellationToken = _stop.Token };
            IAsyncEnumerable<PendingUnit<TItem>> units = UnitSource.ChunkAsync(items, _options.ItemsPerTransaction, n => Interlocked.Add(ref _read, n), _stop.Token);
            await Parallel.ForEachAsync(units, parallel, (unit, token) => RunUnitAsync(unit, token)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Stopped by the caller or by the failure policy: the report says which and what committed.
            // Read the caller's token here, not later: a cancel that arrives after the run finished stops nothing.
            canceled = cancellationToken.IsCancellationRequested;
        }
        finally
        {
            if (timer is not null)
            {
                await timer.DisposeAsync().ConfigureAwait(false);
            }
        }

        ReportProgress();
        if (Volatile.Read(ref _callbackError) is { } callbackError)
        {
            // Decided: a progress handler or commit observer that throws fails the run with its exception (it is the
            // caller's code), after the units in flight settled; what committed stays committed, and the observer
            // told the caller which. It never escapes on a timer thread, where it would end the process.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(callbackError);
        }

        return new BatchResult(
            Interlocked.Read(ref _read),
            Interlocked.Read(ref _committed),
            Interlocked.Read(ref _failed),
            Interlocked.Read(ref _unknown),
            Interlocked.Read(ref _retries),
            _time.GetElapsedTime(_start),
            canceled,
            Volatile.Read(ref _stoppedOnFailure) != 0,
            [.. _failures]);
    }

    public void Dispose() => _stop.Dispose();

    // PERF: pooled state machines: a run of 1-item units settles every unit asynchronously.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask RunUnitAsync(PendingUnit<TItem> unit, CancellationToken token)
    {
        Interlocked.Add(ref _inFlight, unit.Items.Length);
        try
        {
            await SettleAsync(unit.Items, unit.FirstIndex, token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Add(ref _inFlight, -unit.Items.Length);
        }
    }

    /// <summary>Runs a unit until it commits, fails for good (bisecting first if it can), ends unknown, or the run stops.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SettleAsync(ReadOnlyMemory<TItem> items, long firstIndex, CancellationToken token)
    {
        for (int attempt = 1; ; attempt++)
        {
            if (token.IsCancellationRequested)
            {
                return;
            }

            Attempt result = await AttemptAsync(items, firstIndex, attempt, token).ConfigureAwait(false);
            if (result.Committed)
            {
                Interlocked.Add(ref _committed, items.Length);
                if (_observer is not null)
                {
                    try
                    {
                        _observer.OnCommitted(items, firstIndex);
                    }
#pragma warning disable CA1031 // The caller's observer threw: the run fails with it (see RunAsync).
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        StopOnCallbackError(ex);
                    }
                }

                return;
            }

            if (result.Error is null)
            {
                return; // rolled back because the run stopped: not started
            }

            bool retry = result.Kind switch
            {
                BatchErrorKind.Transient => true,
                BatchErrorKind.OutcomeUnknown => _options.IdempotentOperation,
                _ => false,
            };
            if (retry && attempt <= _options.MaxRetriesPerUnit && TryTakeRetry())
            {
                Interlocked.Increment(ref _retries);
                try
                {
                    await Task.Delay(RetryDelay(attempt), _time, token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            if (result.Kind == BatchErrorKind.Permanent && items.Length > 1 && _options.BisectFailedUnits)
            {
                // A poison item spoils its whole unit: split it so the good items still commit.
                int half = items.Length / 2;
                await SettleAsync(items[..half], firstIndex, token).ConfigureAwait(false);
                await SettleAsync(items[half..], firstIndex + half, token).ConfigureAwait(false);
                return;
            }

            Record(items, firstIndex, result.Kind == BatchErrorKind.OutcomeUnknown ? BatchItemOutcome.Unknown : BatchItemOutcome.Failed, result.Error);
            return;
        }
    }

    /// <summary>One try: acquire, begin, run, commit. Never throws; the result says what happened.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<Attempt> AttemptAsync(ReadOnlyMemory<TItem> items, long firstIndex, int attempt, CancellationToken token)
    {
        PoolLease<TResource> lease;
        try
        {
            lease = await _pool.AcquireAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return Attempt.Stopped;
        }
        catch (PoolExhaustedException ex)
        {
            // Exhaustion is the application's capacity problem, not a database hiccup: never retried as transient.
            return Attempt.Fail(BatchErrorKind.Permanent, ex);
        }
        catch (Exception ex)
        {
            return Attempt.Fail(Classify(ex, BatchPhase.Acquire), ex);
        }

        bool broken = false;
        try
        {
            TTransaction transaction;
            try
            {
                transaction = await _handler.BeginAsync(lease.Resource, token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                broken = IsConnectionBroken(ex);
                return ex is OperationCanceledException && token.IsCancellationRequested
                    ? Attempt.Stopped
                    : Attempt.Fail(Classify(ex, BatchPhase.Begin), ex);
            }

            try
            {
                await _operation(new BatchUnit<TResource, TTransaction, TItem>(lease.Resource, transaction, items, firstIndex, attempt), token).ConfigureAwait(false);

                // A unit the operation committed itself (one round trip with its COMMIT) is committed, canceled or not.
                if (!_handler.IsCommitted(transaction))
                {
                    token.ThrowIfCancellationRequested();
                }
            }
            catch (Exception ex)
            {
                broken = IsConnectionBroken(ex) | !await TryRollbackAsync(transaction).ConfigureAwait(false);
                return ex is OperationCanceledException && token.IsCancellationRequested
                    ? Attempt.Stopped
                    : Attempt.Fail(Classify(ex, BatchPhase.Execute), ex);
            }

            try
            {
                // A commit that started is allowed to finish, so its outcome is known.
                await _handler.CommitAsync(transaction, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                broken = IsConnectionBroken(ex);
                return Attempt.Fail(Classify(ex, BatchPhase.Commit), ex);
            }

            return Attempt.Success;
        }
        finally
        {
            if (broken)
            {
                lease.MarkBroken();
            }

            await lease.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The handler's <see cref="ITransactionHandler{TResource, TTransaction}.IsConnectionBroken"/>; one that throws says "broken" (the connection is destroyed rather than reused in an unknown state).</summary>
    private bool IsConnectionBroken(Exception exception)
    {
        try
        {
            return _handler.IsConnectionBroken(exception);
        }
#pragma warning disable CA1031 // A classifier that throws must not skip the rollback or lose the report.
        catch (Exception)
#pragma warning restore CA1031
        {
            return true;
        }
    }

    private BatchErrorKind Classify(Exception exception, BatchPhase phase)
    {
        if (exception is PoolExhaustedException)
        {
            return BatchErrorKind.Permanent;
        }

        try
        {
            return _handler.Classify(exception, phase);
        }
        catch (Exception)
        {
            return phase == BatchPhase.Commit ? BatchErrorKind.OutcomeUnknown : BatchErrorKind.Permanent;
        }
    }

    private async Task<bool> TryRollbackAsync(TTransaction transaction)
    {
        // Not the batch's token: a canceled batch still rolls back its units in flight. Only the timeout abandons it.
        // TimedCancellation: a throwing callback on the token must not escape on the timer thread.
        using var timeout = _options.RollbackTimeout == Timeout.InfiniteTimeSpan
            ? null
            : new TimedCancellation(_time, _options.RollbackTimeout);
        try
        {
            await _handler.RollbackAsync(transaction, timeout?.Token ?? CancellationToken.None).ConfigureAwait(false);
            return true;
        }
#pragma warning disable CA1031 // A failed rollback only means the connection is not reused.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    private void Record(ReadOnlyMemory<TItem> items, long firstIndex, BatchItemOutcome outcome, Exception error)
    {
        long total = outcome == BatchItemOutcome.Unknown
            ? Interlocked.Add(ref _unknown, items.Length) + Interlocked.Read(ref _failed)
            : Interlocked.Add(ref _failed, items.Length) + Interlocked.Read(ref _unknown);

        ReadOnlySpan<TItem> span = items.Span;
        for (int i = 0; i < span.Length; i++)
        {
            if (Interlocked.Increment(ref _recordedFailures) > _options.MaxRecordedFailures)
            {
                break;
            }

            _failures.Enqueue(new BatchItemFailure(firstIndex + i, _keySelector?.Invoke(span[i]), outcome, error));
        }

        bool stop = _options.FailurePolicy == BatchFailurePolicy.StopOnFirstFailure
            || (_options.MaxFailures is { } max && total >= max);
        if (stop && Interlocked.Exchange(ref _stoppedOnFailure, 1) == 0)
        {
            _stop.Cancel();
        }
    }

    private bool TryTakeRetry()
    {
        int left = Volatile.Read(ref _retryBudget);
        while (left > 0)
        {
            int seen = Interlocked.CompareExchange(ref _retryBudget, left - 1, left);
            if (seen == left)
            {
                return true;
            }

            left = seen;
        }

        return false;
    }

    private TimeSpan RetryDelay(int attempt)
    {
        double ticks = Math.Min(_options.RetryBackoffMax.Ticks, _options.RetryBackoffInitial.Ticks * Math.Pow(2, Math.Min(attempt - 1, 30)));
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
        return TimeSpan.FromTicks((long)(ticks * (0.5 + (Random.Shared.NextDouble() * 0.5))));
#pragma warning restore CA5394
    }

    private void ReportProgress()
    {
        if (_progress is null || Volatile.Read(ref _callbackError) is not null)
        {
            return;
        }

        try
        {
            ReportProgressCore(_progress);
        }
#pragma warning disable CA1031 // The caller's handler threw: the run fails with it (see RunAsync), never the timer thread.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            StopOnCallbackError(ex);
        }
    }

    /// <summary>Records the first exception of a caller's callback and stops the run.</summary>
    private void StopOnCallbackError(Exception error)
    {
        if (Interlocked.CompareExchange(ref _callbackError, error, null) is not null)
        {
            return;
        }

        try
        {
            _stop.Cancel();
        }
#pragma warning disable CA1031 // A registration that throws while stopping changes nothing: the run is stopping.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private void ReportProgressCore(IProgress<BatchProgress> progress)
    {
        // Serialized, and read from counters that only grow, so reports never go backwards.
        lock (_progressLock)
        {
            TimeSpan elapsed = _time.GetElapsedTime(_start);
            long committed = Interlocked.Read(ref _committed);
            progress.Report(new BatchProgress(
                committed,
                Interlocked.Read(ref _failed),
                Interlocked.Read(ref _unknown),
                Interlocked.Read(ref _retries),
                Math.Max(0, Interlocked.Read(ref _inFlight)),
                elapsed,
                elapsed > TimeSpan.Zero ? committed / elapsed.TotalSeconds : 0));
        }
    }

    /// <summary>The outcome of one try of a unit.</summary>
    private readonly record struct Attempt(bool Committed, BatchErrorKind Kind, Exception? Error)
    {
        public static Attempt Success => new(true, default, null);

        public static Attempt Stopped => new(false, default, null);

        public static Attempt Fail(BatchErrorKind kind, Exception error) => new(false, kind, error);
    }
}
