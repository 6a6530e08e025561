using System.Globalization;
using System.Text;

namespace PoolKit.Tests.Exploration;

/// <summary>
/// A deterministic scheduler for a handful of logical threads: exactly one runs at a time, and it runs until its next
/// scheduling point (<see cref="Point"/>: the pool's test hooks, every call into <see cref="ControlledPolicy"/>, and
/// the scenario's own yields); there the strategy picks who runs next among the enabled threads and the enabled
/// environment events (an operation of the policy completing, a timer of <see cref="ControlledTimeProvider"/> firing,
/// a token being cancelled). Each logical thread is a real thread passing a baton, so synchronous pool code between
/// two points runs exactly as in production; an environment event runs on a new logical thread of its own, so the
/// continuations it runs inline are controlled too.
/// </summary>
/// <remarks>
/// Every decision is one integer (the index into the ordered list of enabled choices), recorded in
/// <see cref="Choices"/>: a schedule is replayed by feeding the same list back (<see cref="ReplayStrategy"/>).
/// Concurrency: the fields below are touched only by the thread that holds the baton (or by the controller while no
/// logical thread runs); the baton hand-over (a semaphore release and wait) is a full fence.
/// </remarks>
internal sealed class ControlledScheduler : IDisposable
{
    private static readonly TimeSpan s_wallClockBound = TimeSpan.FromSeconds(20);

    private readonly List<LogicalThread> _threads = new();
    private readonly List<EnvironmentEvent> _events = new();
    private readonly List<string> _trace = new();
    private readonly IChoiceStrategy _strategy;
    private readonly SemaphoreSlim _quiescent = new(0);
    private readonly int _maxSteps;
    private LogicalThread? _current;
    private int _steps;
    private volatile bool _aborted;

    public ControlledScheduler(IChoiceStrategy strategy, int maxSteps = 2_000)
    {
        _strategy = strategy;
        _maxSteps = maxSteps;
    }

    /// <summary>Every decision taken so far: the schedule, replayable with <see cref="ReplayStrategy"/>.</summary>
    public List<int> Choices { get; } = new();

    /// <summary>The first failure: an invariant, an exception on a logical thread, uncontrolled code, a bound.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Checked at every scheduling point, on the thread that reached it (throws to fail the schedule).</summary>
    public Action? EveryStep { get; set; }

    /// <summary>The number of scheduling decisions taken.</summary>
    public int Steps => _steps;

    /// <summary>The logical thread running now, or <see langword="null"/> on any other thread.</summary>
    public LogicalThread? Current => _current is { } t && t.Thread == Thread.CurrentThread ? t : null;

    /// <summary>Whether the caller is the logical thread that holds the baton.</summary>
    public bool OnControlledThread => Current is not null;

    /// <summary>Adds a logical thread; it first runs when the strategy picks it.</summary>
    public LogicalThread Spawn(string name, Action body)
    {
        var thread = new LogicalThread(this, _threads.Count, name, body);
        _threads.Add(thread);
        if (!_aborted)
        {
            thread.Start();
        }

        return thread;
    }

    /// <summary>Adds an environment event: enabled while <paramref name="enabled"/> holds; when picked, it runs once on a logical thread of its own.</summary>
    /// <param name="name">The event's name (for the trace).</param>
    /// <param name="enabled">When it may happen.</param>
    /// <param name="run">What happens.</param>
    /// <param name="repeatable">Whether it may happen again (a clock tick) rather than once (an operation ending).</param>
    /// <param name="whenIdle">Whether it may happen only when nothing else is enabled (time passing while everything waits).</param>
    public void AddEvent(string name, Func<bool> enabled, Action run, bool repeatable = false, bool whenIdle = false) =>
        _events.Add(new EnvironmentEvent(name, enabled, run, repeatable, whenIdle));

    /// <summary>A data choice (for example a policy outcome), recorded in the schedule like a scheduling decision.</summary>
    public int ChooseData(int count, string what)
    {
        if (count <= 1)
        {
            return 0;
        }

        int choice = _strategy.Choose(count, ChoiceKind.Data);
        Record(choice, count, $"data {what}: {choice}");
        return choice;
    }

    /// <summary>A scheduling point: the strategy may switch to another enabled thread or event.</summary>
    /// <param name="where">Where the caller is (for the trace).</param>
    public void Point(string where)
    {
        LogicalThread? me = Current;
        if (me is null)
        {
            ReportUncontrolled(where);
            return;
        }

        me.Where = where;
        if (!ScheduleNext(me))
        {
            me.WaitForBaton();
        }
    }

    /// <summary>Blocks the calling logical thread until <paramref name="condition"/> holds (checked at each decision).</summary>
    public void WaitUntil(string what, Func<bool> condition)
    {
        LogicalThread me = Current ?? throw new InvalidOperationException("WaitUntil outside a logical thread");
        if (condition())
        {
            return;
        }

        me.Until = condition;
        me.Where = "waits: " + what;
        if (!ScheduleNext(me))
        {
            me.WaitForBaton();
        }

        me.Until = null;
    }

    /// <summary>Runs the logical threads until none is enabled (or the schedule failed): called by the controller while no logical thread runs.</summary>
    /// <returns><see langword="false"/> if the schedule failed.</returns>
    public bool RunUntilQuiescent()
    {
        if (Failure is not null)
        {
            return false;
        }

        if (ScheduleNext(null))
        {
            throw new InvalidOperationException("the controller cannot continue itself");
        }

        if (!_quiescent.Wait(s_wallClockBound))
        {
            Fail(new TimeoutException($"no quiescence within {s_wallClockBound.TotalSeconds} s of wall-clock time (a spin, or code blocked outside the scheduler); running: {_current?.Name} at {_current?.Where}"));
            return false;
        }

        return Failure is null;
    }

    /// <summary>The logical threads that have not finished, with where they wait.</summary>
    public IEnumerable<LogicalThread> Unfinished => _threads.Where(t => !t.Finished);

    /// <summary>The schedule and the last steps, for an assertion message.</summary>
    public string Describe(int lastSteps = 60)
    {
        var text = new StringBuilder();
        text.Append("choices: ").AppendJoin(',', Choices).AppendLine();
        text.Append(CultureInfo.InvariantCulture, $"last {Math.Min(lastSteps, _trace.Count)} of {_trace.Count} steps:").AppendLine();
        foreach (string step in _trace.Skip(Math.Max(0, _trace.Count - lastSteps)))
        {
            text.Append("  ").AppendLine(step);
        }

        foreach (LogicalThread thread in Unfinished)
        {
            text.Append(CultureInfo.InvariantCulture, $"  unfinished: {thread.Name} at {thread.Where}").AppendLine();
        }

        return text.ToString();
    }

    /// <summary>Fails the schedule (the first failure wins) and stops it.</summary>
    public void Fail(Exception error)
    {
        lock (_trace)
        {
            Failure ??= error;
        }

        Abort();
    }

    /// <summary>Unblocks every logical thread: each unwinds with <see cref="ScheduleAbortedException"/> at its next point.</summary>
    public void Abort()
    {
        if (_aborted)
        {
            return;
        }

        _aborted = true;
        foreach (LogicalThread thread in _threads.ToArray())
        {
            thread.Release();
        }

        _quiescent.Release();
    }

    public void Dispose()
    {
        Abort();
        foreach (LogicalThread thread in _threads.ToArray())
        {
            thread.Join(TimeSpan.FromSeconds(2));
        }

        _quiescent.Dispose();
    }

    internal bool IsAborted => _aborted;

    /// <summary>Adds a line to the trace (no decision).</summary>
    public void Note(string what) => _trace.Add("   " + what);

    /// <summary>Records a decision; one with a single option is traced but is no choice (a replay never sees it).</summary>
    internal void Record(int choice, int count, string what)
    {
        if (count > 1)
        {
            Choices.Add(choice);
            _trace.Add(string.Create(CultureInfo.InvariantCulture, $"c{Choices.Count - 1} [{choice}/{count}] {what}"));
        }
        else
        {
            _trace.Add("         " + what);
        }
    }

    internal void ThreadFinished(LogicalThread thread, Exception? error)
    {
        if (error is not null && error is not ScheduleAbortedException)
        {
            Fail(new InvalidOperationException($"logical thread '{thread.Name}' threw: {error.GetType().Name}: {error.Message}", error));
            return;
        }

        if (!_aborted)
        {
            _ = ScheduleNext(thread);
        }
    }

    private void ReportUncontrolled(string where)
    {
        if (!_aborted)
        {
            Fail(new InvalidOperationException($"pool code reached the scheduling point '{where}' on an uncontrolled thread ('{Thread.CurrentThread.Name}', pool thread: {Thread.CurrentThread.IsThreadPoolThread}): the exploration is not deterministic there"));
        }
    }

    /// <summary>Picks who runs next and hands it the baton.</summary>
    /// <returns><see langword="true"/> if the caller itself continues.</returns>
    private bool ScheduleNext(LogicalThread? from)
    {
        if (_aborted)
        {
            if (from is not null && !from.Finished)
            {
                throw new ScheduleAbortedException();
            }

            return false;
        }

        if (++_steps > _maxSteps)
        {
            Fail(new InvalidOperationException($"the schedule exceeded {_maxSteps} steps (a livelock?)"));
            return ThrowIfAborted(from);
        }

        try
        {
            EveryStep?.Invoke();
        }
#pragma warning disable CA1031 // Any failure of the check fails the schedule.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Fail(ex);
            return ThrowIfAborted(from);
        }

        var enabled = new List<object>();
        foreach (LogicalThread thread in _threads)
        {
            if (!thread.Finished && thread.Started && (thread.Until is null || thread.Until()))
            {
                enabled.Add(thread);
            }
        }

        foreach (EnvironmentEvent e in _events)
        {
            if (!e.Taken && !e.WhenIdle && e.Enabled())
            {
                enabled.Add(e);
            }
        }

        if (enabled.Count == 0)
        {
            foreach (EnvironmentEvent e in _events)
            {
                if (!e.Taken && e.WhenIdle && e.Enabled())
                {
                    enabled.Add(e);
                }
            }
        }

        if (enabled.Count == 0)
        {
            _current = null;
            _quiescent.Release();
            return false;
        }

        // The thread that reached the point comes first: any other choice preempts it (the depth-first search bounds those).
        int self = from is null ? -1 : enabled.IndexOf(from);
        if (self > 0)
        {
            enabled.RemoveAt(self);
            enabled.Insert(0, from!);
        }

        int choice = enabled.Count == 1 ? 0 : _strategy.Choose(enabled.Count, self >= 0 ? ChoiceKind.Preemption : ChoiceKind.Schedule);
        if (choice < 0 || choice >= enabled.Count)
        {
            Fail(new InvalidOperationException($"the replayed choice {choice} is out of range (0..{enabled.Count - 1}): the replay diverged"));
            return ThrowIfAborted(from);
        }

        LogicalThread next;
        if (enabled[choice] is EnvironmentEvent picked)
        {
            picked.Taken = !picked.Repeatable;
            next = Spawn("event " + picked.Name, picked.Run);
            Record(choice, enabled.Count, $"{from?.Name ?? "controller"} -> {next.Name}");
        }
        else
        {
            next = (LogicalThread)enabled[choice];
            Record(choice, enabled.Count, $"{from?.Name ?? "controller"} -> {next.Name} (at {next.Where})");
        }

        if (ReferenceEquals(next, from))
        {
            return true;
        }

        _current = next;
        next.Release();
        return false;
    }

    private static bool ThrowIfAborted(LogicalThread? from)
    {
        if (from is not null && !from.Finished)
        {
            throw new ScheduleAbortedException();
        }

        return false;
    }

    private sealed class EnvironmentEvent(string name, Func<bool> enabled, Action run, bool repeatable, bool whenIdle)
    {
        public bool Repeatable { get; } = repeatable;

        public bool WhenIdle { get; } = whenIdle;

        public string Name { get; } = name;

        public Func<bool> Enabled { get; } = enabled;

        public Action Run { get; } = run;

        public bool Taken { get; set; }
    }
}
