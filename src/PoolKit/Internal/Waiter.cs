using System.Threading.Tasks.Sources;

namespace PoolKit.Internal;

/// <summary>
/// One acquirer waiting in the <see cref="WaiterQueue{T}"/>: a reusable, allocation-free awaitable that is
/// completed exactly once per wait.
/// </summary>
/// <remarks>
/// <para><b>Concurrency.</b> Several parties may race to complete a waiter: a returner handing off a slot, the
/// timeout sweep, the cancellation callback, the pool's disposal, and the waiter itself after its post-enqueue
/// re-check. <see cref="_state"/> arbitrates: it holds the wait's epoch shifted left by one, plus a "completed"
/// bit, and only the CAS that sets the bit may complete the waiter. A party that found the waiter in the
/// queue captures the epoch under the queue's lock and completes with it, so a waiter that was meanwhile
/// completed by someone else, consumed and reused for a new wait (new epoch) cannot be completed by mistake.</para>
/// <para>The prev/next links and <see cref="Queued"/> belong to the queue and are written only under its lock
/// (and read only under it, except by the owner recycling the waiter once nobody can unlink it any more).
/// <see cref="Deadline"/> and <see cref="Registration"/> are written by the waiting acquirer before
/// enqueueing and after the wait, respectively.</para>
/// <para>Continuations run on a thread-pool thread (the waiter queues itself as a work item), so completing a
/// waiter never runs the acquirer's code on the completer's stack.</para>
/// </remarks>
/// <typeparam name="T">The pooled resource type.</typeparam>
internal sealed class Waiter<T> : IValueTaskSource<WaitResult<T>>, IValueTaskSource<PoolLease<T>>, IThreadPoolWorkItem
    where T : class
{
    private ManualResetValueTaskSourceCore<WaitResult<T>> _core;

    /// <summary>The result the winning completer set, delivered by <c>Execute</c> on a thread-pool thread.</summary>
    private WaitResult<T> _result;

    /// <summary>(epoch &lt;&lt; 1) | completedBit; see the type remarks.</summary>
    private int _state;

    public Waiter(WaiterQueue<T> queue)
    {
        Queue = queue;

        // Continuations never run on the completer's stack: TryComplete queues this waiter as a work item and the
        // result is set (running the continuation inline) on a thread-pool thread. PERF: queued with preferLocal,
        // so a returner on a pool thread feeds its own local queue instead of the contended global one, which
        // RunContinuationsAsynchronously would use.
        _core.RunContinuationsAsynchronously = false;
    }

    /// <summary>The queue this waiter belongs to (for the cancellation callback).</summary>
    public WaiterQueue<T> Queue { get; }

    /// <summary>Timestamp after which the wait times out; <see cref="long.MaxValue"/> for never.</summary>
    public long Deadline;

    /// <summary>The registration on the acquirer's token, disposed before the waiter is reused.</summary>
    public CancellationTokenRegistration Registration;

    /// <summary>The pool that turns the outcome into a lease (<see cref="AsLeaseTask"/>); set by <see cref="Begin"/>.</summary>
    public ConnectionPool<T>? Pool;

    /// <summary>When the acquire started (pool clock), for the timeout report.</summary>
    public long Start;

    /// <summary>The precise start for the wait-time histogram, or 0.</summary>
    public long WaitStartPrecise;

    /// <summary>The acquirer's token, for the <see cref="OperationCanceledException"/> it gets.</summary>
    public CancellationToken Token;

    // Queue links, guarded by the queue's lock.
    public Waiter<T>? Previous;
    public Waiter<T>? Next;
    public bool Queued;

    /// <summary>Gets whether the current wait is still pending (nobody completed it yet).</summary>
    public bool IsPending => (Volatile.Read(ref _state) & 1) == 0;

    /// <summary>Gets the current wait's epoch.</summary>
    public int Epoch => Volatile.Read(ref _state) >> 1;

    /// <summary>Gets the awaitable for the current wait: its raw outcome.</summary>
    public ValueTask<WaitResult<T>> AsValueTask() => new(this, _core.Version);

    /// <summary>Records what the pool needs to end an acquire's wait; called by the acquirer right after it enqueued.</summary>
    public void Begin(ConnectionPool<T> pool, long start, long waitStartPrecise, CancellationToken cancellationToken)
    {
        Pool = pool;
        Start = start;
        WaitStartPrecise = waitStartPrecise;
        Token = cancellationToken;
    }

    /// <summary>
    /// Gets the acquirer's task for the current wait: the caller's await takes the result straight from this waiter,
    /// and the pool turns it into a lease or an exception (<see cref="ConnectionPool{T}.EndWait"/>), which also
    /// recycles the waiter. Requires <see cref="Begin"/>.
    /// </summary>
    public ValueTask<PoolLease<T>> AsLeaseTask() => new(this, _core.Version);

    /// <summary>Completes the wait of the given epoch, if nobody completed it yet.</summary>
    /// <returns><see langword="true"/> if this call completed the waiter.</returns>
    public bool TryComplete(int epoch, WaitResult<T> result)
    {
        int pending = epoch << 1;
        if (Interlocked.CompareExchange(ref _state, pending | 1, pending) != pending)
        {
            return false;
        }

        _result = result;
#if DEBUG
        // Test seam (Debug builds only): the exploration's scheduler delivers the result on a thread it controls.
        if (Queue.TestHookDeliver is { } deliver)
        {
            deliver(this);
            return true;
        }
#endif
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
        return true;
    }

    /// <summary>Delivers the result on a thread-pool thread (see the constructor).</summary>
    void IThreadPoolWorkItem.Execute() => _core.SetResult(_result);

    /// <summary>
    /// Completes the current wait from its owner, before the owner awaits it: no continuation can be registered
    /// yet, so the result is set inline, without the thread-pool hop of <see cref="TryComplete"/>.
    /// </summary>
    /// <returns><see langword="true"/> if this call completed the waiter.</returns>
    public bool TryCompleteByOwner(WaitResult<T> result)
    {
        int state = Volatile.Read(ref _state);
        if ((state & 1) != 0 || Interlocked.CompareExchange(ref _state, state | 1, state) != state)
        {
            return false;
        }

        _result = result;
        _core.SetResult(result);
        return true;
    }

    /// <summary>Completes the current wait if nobody completed it yet (used by the cancellation callback).</summary>
    /// <returns><see langword="true"/> if this call completed the waiter.</returns>
    public bool TryCompleteCurrent(WaitResult<T> result)
    {
        int state = Volatile.Read(ref _state);
        return (state & 1) == 0 && TryComplete(state >> 1, result);
    }

    /// <summary>Prepares the waiter for another wait. Only its owner calls this, after consuming the result and disposing the registration.</summary>
    public void Reset()
    {
        // State transitions: pending(e) → completed(e) by exactly one CAS, then (here, by the owner only) → pending(e + 1).
        System.Diagnostics.Debug.Assert((Volatile.Read(ref _state) & 1) != 0, "a waiter is reset only after its wait completed");
        System.Diagnostics.Debug.Assert(!Queued, "a waiter is reset only once unlinked");
        _core.Reset();
        _result = default;
        Deadline = 0;
        Registration = default;
        Start = 0;
        WaitStartPrecise = 0;
        Token = default;
        Volatile.Write(ref _state, ((_state >> 1) + 1) << 1);
    }

    WaitResult<T> IValueTaskSource<WaitResult<T>>.GetResult(short token) => _core.GetResult(token);

    PoolLease<T> IValueTaskSource<PoolLease<T>>.GetResult(short token) => Pool!.EndWait(this, _core.GetResult(token));

    /// <summary>
    /// The acquirer's task status: the core only knows "completed", so the outcome decides whether that is a success
    /// (a hand-off), a cancellation, or a fault (timeout, creation failure, disposal), as <see cref="ValueTask{TResult}.IsCanceled"/>
    /// and <see cref="ValueTask{TResult}.IsFaulted"/> report it.
    /// </summary>
    ValueTaskSourceStatus IValueTaskSource<PoolLease<T>>.GetStatus(short token)
    {
        ValueTaskSourceStatus status = _core.GetStatus(token);
        if (status != ValueTaskSourceStatus.Succeeded)
        {
            return status;
        }

        // _result is written before the core is completed (both completers), so a completed core shows it.
        return _result.Outcome switch
        {
            WaitOutcome.HandedOff => ValueTaskSourceStatus.Succeeded,
            WaitOutcome.Canceled => ValueTaskSourceStatus.Canceled,
            _ => ValueTaskSourceStatus.Faulted,
        };
    }

    void IValueTaskSource<PoolLease<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    ValueTaskSourceStatus IValueTaskSource<WaitResult<T>>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<WaitResult<T>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
