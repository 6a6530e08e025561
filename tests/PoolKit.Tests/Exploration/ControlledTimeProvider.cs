namespace PoolKit.Tests.Exploration;

/// <summary>
/// A clock that moves only when the scheduler fires a timer (<see cref="FireNext"/>): the time jumps to that timer's
/// due time and its callback runs inline, on the logical thread of the event. Timers and the clock are touched only by
/// the logical thread that holds the baton.
/// </summary>
internal sealed class ControlledTimeProvider : TimeProvider
{
    private static readonly DateTimeOffset s_epoch = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private readonly List<ControlledTimer> _timers = new();
    private long _now = TimeSpan.TicksPerSecond;
    private long _sequence;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _now);

    public override DateTimeOffset GetUtcNow() => s_epoch.AddTicks(GetTimestamp());

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ControlledTimer(this, callback, state);
        lock (_timers)
        {
            _timers.Add(timer);
        }

        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>The armed timer due first (ties: the one armed first), if it is due within <paramref name="horizon"/>.</summary>
    public bool HasTimerWithin(TimeSpan horizon) => NextDue(horizon) is not null;

    /// <summary>Moves the clock to the first due timer (within <paramref name="horizon"/>) and runs its callback here.</summary>
    public void FireNext(TimeSpan horizon)
    {
        ControlledTimer? timer = NextDue(horizon);
        if (timer is null)
        {
            return;
        }

        if (timer.Due > _now)
        {
            Interlocked.Exchange(ref _now, timer.Due);
        }

        timer.Fire();
    }

    /// <summary>Moves the clock by <paramref name="step"/>, firing on the way (in order, here) every timer that falls due.</summary>
    public void Advance(TimeSpan step)
    {
        long target = _now + step.Ticks;
        while (NextDue(TimeSpan.FromTicks(target - _now)) is { } timer)
        {
            if (timer.Due > _now)
            {
                Interlocked.Exchange(ref _now, timer.Due);
            }

            timer.Fire();
        }

        Interlocked.Exchange(ref _now, target);
    }

    private ControlledTimer? NextDue(TimeSpan horizon)
    {
        long limit = _now + horizon.Ticks;
        ControlledTimer? first = null;
        lock (_timers)
        {
            foreach (ControlledTimer timer in _timers)
            {
                if (timer.Armed && timer.Due <= limit && (first is null || timer.Due < first.Due || (timer.Due == first.Due && timer.Sequence < first.Sequence)))
                {
                    first = timer;
                }
            }
        }

        return first;
    }

    private sealed class ControlledTimer(ControlledTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        private long _period = -1;

        public bool Armed { get; private set; }

        public long Due { get; private set; }

        public long Sequence { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._timers)
            {
                Armed = dueTime != Timeout.InfiniteTimeSpan;
                Due = Armed ? owner._now + Math.Max(0, dueTime.Ticks) : 0;
                _period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? -1 : period.Ticks;
                Sequence = ++owner._sequence;
            }

            return true;
        }

        public void Fire()
        {
            lock (owner._timers)
            {
                if (_period > 0)
                {
                    Due += _period;
                    Sequence = ++owner._sequence;
                }
                else
                {
                    Armed = false;
                }
            }

            callback(state);
        }

        public void Dispose()
        {
            lock (owner._timers)
            {
                Armed = false;
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return default;
        }
    }
}
