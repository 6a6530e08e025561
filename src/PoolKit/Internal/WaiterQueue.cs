namespace PoolKit.Internal;

/// <summary>
/// The FIFO queue of acquirers waiting for a resource, with one shared timer that expires them and tells the
/// pool when the creation back-off ends.
/// </summary>
/// <remarks>
/// <para><b>Concurrency.</b> The queue is the pool's slow path and is guarded by one lock (<see cref="_lock"/>):
/// the intrusive list (<see cref="_head"/>, <see cref="_tail"/>, each waiter's links), <see cref="_count"/>,
/// the free list, <see cref="_armedAt"/>, <see cref="_wakeAt"/> and <see cref="_closed"/> are only written
/// under it. <see cref="Count"/> is read without the lock by the rent/return fast path, which only needs to
/// know whether anybody waits; the lost-wake-up protocol in the pool makes that racy read safe.</para>
/// <para>Waiters are completed outside the lock. A waiter leaves the list under the lock before anybody
/// tries to complete it; the completion itself is arbitrated by the waiter (see <see cref="Waiter{T}"/>).</para>
/// <para><see cref="_spare"/> is the one field outside the lock besides <see cref="_count"/>: a recycled waiter,
/// moved in and out by CAS and exchange.</para>
/// <para>Invariant (checked by <see cref="AssertInvariantsLocked"/> in debug builds under every lock acquisition that
/// changes the list): <c>_count</c> equals the number of waiters linked from <c>_head</c>, the links are consistent
/// both ways, and every linked waiter has <c>Queued == true</c>.</para>
/// </remarks>
/// <typeparam name="T">The pooled resource type.</typeparam>
internal sealed class WaiterQueue<T> : IDisposable
    where T : class
{
    private const int MaxFreeWaiters = 64;

    private readonly object _lock = new();
    private readonly PoolClock _clock;
    private readonly ITimer _timer;
    private readonly Action _onWakeUp;
    private Waiter<T>? _head;
    private Waiter<T>? _tail;
    private int _count;
    private Waiter<T>? _free;
    private int _freeCount;

    /// <summary>
    /// One recycled waiter kept outside the lock: written by <see cref="RemoveAndRecycle"/> with a CAS from
    /// <see langword="null"/>, taken by <see cref="RentAndEnqueue"/> with an exchange. PERF: in the steady state of a
    /// contended pool every wait rents the waiter the previous wait recycled, so recycling takes no lock.
    /// </summary>
    private Waiter<T>? _spare;

    /// <summary>When the timer is due (timestamp), or <see cref="long.MaxValue"/> if it is not armed.</summary>
    private long _armedAt = long.MaxValue;

    /// <summary>When <see cref="_onWakeUp"/> should run (the end of a creation back-off), or <see cref="long.MaxValue"/>.</summary>
    private long _wakeAt = long.MaxValue;

    private bool _closed;

    /// <summary>Waiters enqueued so far; written under the lock.</summary>
    private long _enqueued;

#if DEBUG
    /// <summary>
    /// Test seam (Debug builds only): when set, a completed waiter hands its result delivery (the work item
    /// <see cref="Waiter{T}.TryComplete"/> queues to the thread pool) to this instead, so a test scheduler runs the
    /// caller's continuation on a thread it controls (tests/PoolKit.Tests/Exploration).
    /// </summary>
    internal Action<IThreadPoolWorkItem>? TestHookDeliver;
#endif

    /// <param name="time">The clock the timer runs on.</param>
    /// <param name="clock">The pool's tick clock.</param>
    /// <param name="onWakeUp">Runs on the timer thread, outside the lock, once a time asked for by <see cref="WakeUpAt"/> has come.</param>
    public WaiterQueue(TimeProvider time, PoolClock clock, Action onWakeUp)
    {
        _clock = clock;
        _onWakeUp = onWakeUp;
        using (ExecutionContext.SuppressFlow())
        {
            _timer = time.CreateTimer(static s => ((WaiterQueue<T>)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Gets how many acquirers wait (a racy read, see the remarks).</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Gets how many acquirers have queued so far: each acquire that waits counts once (the pool never re-enqueues a
    /// waiter). PERF: counted under the lock the enqueue takes anyway, not with an interlocked increment of a shared
    /// counter per wait.
    /// </summary>
    public long Enqueued => Volatile.Read(ref _enqueued);

    /// <summary>
    /// Takes a waiter from the free list (or makes one) and links it at the tail, under one lock acquisition.
    /// </summary>
    /// <param name="deadline">When the wait times out (pool clock tick), or <see cref="long.MaxValue"/>.</param>
    /// <param name="maxWaiters">The bound of the queue.</param>
    /// <param name="waiter">The queued waiter when the result is <see cref="EnqueueResult.Enqueued"/>.</param>
    public EnqueueResult RentAndEnqueue(long deadline, int? maxWaiters, out Waiter<T>? waiter)
    {
        waiter = null;
        lock (_lock)
        {
            if (_closed)
            {
                return EnqueueResult.Closed;
            }

            if (maxWaiters is { } max && _count >= max)
            {
                return EnqueueResult.Full;
            }

            waiter = Interlocked.Exchange(ref _spare, null) ?? _free;
            if (waiter is null)
            {
                waiter = new Waiter<T>(this);
            }
            else if (waiter == _free)
            {
                _free = waiter.Next;
                waiter.Next = null;
                _freeCount--;
            }

            waiter.Deadline = deadline;
            Volatile.Write(ref _enqueued, _enqueued + 1);
            waiter.Previous = _tail;
            if (_tail is not null)
            {
                _tail.Next = waiter;
            }
            else
            {
                _head = waiter;
            }

            _tail = waiter;

            waiter.Queued = true;
            Volatile.Write(ref _count, _count + 1);
            ArmLocked(deadline);
            AssertInvariantsLocked();
            return EnqueueResult.Enqueued;
        }
    }

    /// <summary>Unlinks a consumed waiter if it is still queued, resets it and keeps it for reuse, under one lock acquisition.</summary>
    /// <param name="waiter">A waiter whose result its owner has consumed and whose registration is disposed.</param>
    public void RemoveAndRecycle(Waiter<T> waiter)
    {
        // Every party that unlinks a waiter has done so by now: a dequeuer unlinks before completing, and the owner
        // has waited for the cancellation callback (its registration is disposed). So a waiter read as not queued
        // stays so, and can be reset and kept without the lock.
        bool queued = Volatile.Read(ref waiter.Queued);
        if (!queued)
        {
            waiter.Reset();
            if (Interlocked.CompareExchange(ref _spare, waiter, null) is null)
            {
                return;
            }
        }

        lock (_lock)
        {
            if (waiter.Queued)
            {
                UnlinkLocked(waiter);
            }

            if (queued)
            {
                waiter.Reset();
            }

            AssertInvariantsLocked();

            if (_freeCount < MaxFreeWaiters)
            {
                waiter.Next = _free;
                _free = waiter;
                _freeCount++;
            }
        }
    }

    /// <summary>Unlinks the longest waiter and captures the epoch it must be completed with.</summary>
    public bool TryDequeue(out Waiter<T>? waiter, out int epoch)
    {
        lock (_lock)
        {
            waiter = _head;
            if (waiter is null)
            {
                epoch = 0;
                return false;
            }

            epoch = waiter.Epoch;
            UnlinkLocked(waiter);
            AssertInvariantsLocked();
            return true;
        }
    }

    /// <summary>Unlinks every waiter, in order, capturing the epochs they must be completed with.</summary>
    /// <returns>The waiters that were queued, oldest first; empty when nobody waited.</returns>
    public List<(Waiter<T> Waiter, int Epoch)> DequeueAll()
    {
        List<(Waiter<T> Waiter, int Epoch)> all = [];
        lock (_lock)
        {
            while (_head is { } w)
            {
                all.Add((w, w.Epoch));
                UnlinkLocked(w);
            }

            AssertInvariantsLocked();
        }

        return all;
    }

    /// <summary>Unlinks a waiter if it is still queued.</summary>
    public void Remove(Waiter<T> waiter)
    {
        lock (_lock)
        {
            if (waiter.Queued)
            {
                UnlinkLocked(waiter);
            }

            AssertInvariantsLocked();
        }
    }

    /// <summary>Asks for the wake-up callback to run at the given timestamp (the end of a creation back-off).</summary>
    public void WakeUpAt(long timestamp)
    {
        lock (_lock)
        {
            if (_closed || timestamp >= _wakeAt)
            {
                return;
            }

            _wakeAt = timestamp;
            ArmLocked(timestamp);
        }
    }

    /// <summary>Closes the queue: later enqueues fail, and every queued waiter is completed with <see cref="WaitOutcome.Disposed"/>.</summary>
    public void Dispose()
    {
        List<(Waiter<T> Waiter, int Epoch)> drained = [];
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            while (_head is { } w)
            {
                drained.Add((w, w.Epoch));
                UnlinkLocked(w);
            }
        }

        _timer.Dispose();
        foreach ((Waiter<T> w, int epoch) in drained)
        {
            w.TryComplete(epoch, new WaitResult<T>(null, WaitOutcome.Disposed));
        }
    }

    private void OnTimer()
    {
        List<(Waiter<T> Waiter, int Epoch)>? due = null;
        bool wakeUp = false;
        lock (_lock)
        {
            long now = _clock.Now;
            _armedAt = long.MaxValue;
            long next = long.MaxValue;
            for (Waiter<T>? w = _head; w is not null;)
            {
                Waiter<T>? following = w.Next;
                if (w.Deadline <= now)
                {
                    (due ??= []).Add((w, w.Epoch));
                    UnlinkLocked(w);
                }
                else if (w.Deadline < next)
                {
                    next = w.Deadline;
                }

                w = following;
            }

            if (_wakeAt <= now)
            {
                _wakeAt = long.MaxValue;
                wakeUp = !_closed;
            }
            else if (_wakeAt < next)
            {
                next = _wakeAt;
            }

            if (!_closed)
            {
                ArmLocked(next);
            }

            AssertInvariantsLocked();
        }

        if (due is not null)
        {
            foreach ((Waiter<T> w, int epoch) in due)
            {
                w.TryComplete(epoch, new WaitResult<T>(null, WaitOutcome.TimedOut));
            }
        }

        if (wakeUp)
        {
            _onWakeUp();
        }
    }

    private void ArmLocked(long timestamp)
    {
        if (timestamp == long.MaxValue || timestamp >= _armedAt || _closed)
        {
            return;
        }

        _armedAt = timestamp;
        long now = _clock.Now;

        // At least one tick, so a fake clock never fires the timer synchronously inside Change (under our lock).
        TimeSpan due = timestamp > now ? _clock.Elapsed(now, timestamp) : TimeSpan.Zero;
        if (due < TimeSpan.FromTicks(1))
        {
            due = TimeSpan.FromTicks(1);
        }

        _timer.Change(due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Checks the list under the lock: links consistent both ways, every linked waiter queued, the count exact.</summary>
    [System.Diagnostics.Conditional("DEBUG")]
    private void AssertInvariantsLocked()
    {
        System.Diagnostics.Debug.Assert(Monitor.IsEntered(_lock), "the queue lock is held");
        int n = 0;
        Waiter<T>? previous = null;
        for (Waiter<T>? w = _head; w is not null; w = w.Next)
        {
            System.Diagnostics.Debug.Assert(w.Queued, "every linked waiter is marked queued");
            System.Diagnostics.Debug.Assert(ReferenceEquals(w.Previous, previous), "the back link matches");
            previous = w;
            n++;
        }

        System.Diagnostics.Debug.Assert(ReferenceEquals(_tail, previous), "the tail is the last linked waiter");
        System.Diagnostics.Debug.Assert(n == _count, $"the count ({_count}) equals the linked waiters ({n})");
    }

    private void UnlinkLocked(Waiter<T> waiter)
    {
        if (waiter.Previous is not null)
        {
            waiter.Previous.Next = waiter.Next;
        }
        else
        {
            _head = waiter.Next;
        }

        if (waiter.Next is not null)
        {
            waiter.Next.Previous = waiter.Previous;
        }
        else
        {
            _tail = waiter.Previous;
        }

        waiter.Previous = null;
        waiter.Next = null;
        waiter.Queued = false;
        Volatile.Write(ref _count, _count - 1);
    }
}
