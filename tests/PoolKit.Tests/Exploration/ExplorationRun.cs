using System.Globalization;
using System.Reflection;

namespace PoolKit.Tests.Exploration;

/// <summary>
/// One schedule of one scenario: a real <see cref="ConnectionPool{T}"/> on a <see cref="ControlledTimeProvider"/> and a
/// <see cref="ControlledPolicy"/>, its test hooks turned into scheduling points, the scenario's logical threads, and the
/// invariants checked at every step, at quiescence and at the end.
/// </summary>
/// <remarks>
/// Phases: (1) the scenario runs until no thread or event is enabled (the clock fires at most
/// <see cref="Scenario.TimerFirings"/> timers); the invariants at rest are checked there, the lost wake-up among them.
/// (2) The policy heals and time passes whenever nothing else can happen: every acquire must end with exactly one
/// outcome. (3) Unless the
/// scenario disposed the pool, MaxSize acquirers must all be served at once (every slot usable again), and then the
/// pool is disposed and must destroy everything it holds.
/// </remarks>
internal sealed class ExplorationRun : IDisposable
{
    /// <summary>Timers due beyond this are never fired (the maintenance timer, idle and lifetime pruning).</summary>
    private static readonly TimeSpan s_horizon = TimeSpan.FromMinutes(1);

    private readonly Scenario _scenario;
    private readonly List<string> _outcomes = new();
    private readonly HashSet<string> _acquirers = new();
    private int _timerFiringsLeft;
    private int _clockStepsLeft;
    private int _acquireCalls;
    private int _inFlight;
    private int _peakInFlight;
    private bool _disposing;
    private bool _settling;

    public ExplorationRun(Scenario scenario, IChoiceStrategy strategy)
    {
        _scenario = scenario;
        Scheduler = new ControlledScheduler(strategy, scenario.MaxSteps);
        Time = new ControlledTimeProvider();
        Policy = scenario.Resetting ? new ControlledResettingPolicy(Scheduler) : new ControlledPolicy(Scheduler);
        scenario.ConfigurePolicy?.Invoke(Policy);
        var options = new ConnectionPoolOptions
        {
            Name = "explore",
            MaxSize = 2,
            AcquireTimeout = TimeSpan.FromSeconds(10),
            ValidationBypassWindow = TimeSpan.FromHours(1),
            MaintenanceInterval = TimeSpan.FromHours(1),
        };
        scenario.ConfigureOptions?.Invoke(options);
        Options = options;
        Pool = new ConnectionPool<ExploredResource>(Policy, options, timeProvider: Time);
        HooksWired = WireHooks();
        DeliveriesControlled = WireDelivery();
        _timerFiringsLeft = scenario.TimerFirings;
        // In the scenario's phase a timer may fire at any step (a deadline racing a hand-off), a few times; afterwards
        // time passes only while nothing else can happen (every thread waits, no operation can end), as it does when
        // deadlines are far from a few CPU steps and the policy answers at once.
        Scheduler.AddEvent("a timer fires", () => _timerFiringsLeft > 0 && !_settling && Time.HasTimerWithin(s_horizon), FireTimer, repeatable: true);
        Scheduler.AddEvent("time passes", () => _settling && Time.HasTimerWithin(s_horizon), FireTimer, repeatable: true, whenIdle: true);
        _clockStepsLeft = scenario.ClockSteps;
        Scheduler.AddEvent("the clock moves", () => _clockStepsLeft > 0, MoveClock, repeatable: true);
        Scheduler.EveryStep = CheckEveryStep;
    }

    public ControlledScheduler Scheduler { get; }

    public ControlledTimeProvider Time { get; }

    public ControlledPolicy Policy { get; }

    public ConnectionPool<ExploredResource> Pool { get; }

    public ConnectionPoolOptions Options { get; }

    /// <summary>The pool's test hooks turned into scheduling points.</summary>
    public int HooksWired { get; }

    /// <summary>
    /// Whether a completed waiter's result is delivered by a scheduler event (Debug builds: <c>WaiterQueue.TestHookDeliver</c>)
    /// rather than by the thread pool, whose timing the scheduler does not control (the exploration refuses to run then).
    /// </summary>
    public bool DeliveriesControlled { get; }

    /// <summary>The outcome of every acquire, in the order they ended ("name: lease r1", "name: PoolExhaustedException"...).</summary>
    public IReadOnlyList<string> Outcomes => _outcomes;

    /// <summary>The highest number of resources alive at once (created, destruction not completed).</summary>
    public int MaxAlive { get; private set; }

    /// <summary>Runs the schedule to its end.</summary>
    /// <returns>The failure, or <see langword="null"/>.</returns>
    public Exception? Execute()
    {
        _scenario.Threads(this);
        if (!Scheduler.RunUntilQuiescent())
        {
            return Scheduler.Failure;
        }

        if (Check(CheckAtRest) is { } atRest)
        {
            return atRest;
        }

        // Phase 2: everything that can end, ends.
        Policy.Healed = true;
        _timerFiringsLeft = 0;
        _clockStepsLeft = 0;
        _settling = true;
        if (!Scheduler.RunUntilQuiescent())
        {
            return Scheduler.Failure;
        }

        if (Check(CheckEveryAcquireEnded) is { } ended)
        {
            return ended;
        }

        // Phase 3: every slot usable again, then a clean disposal.
        if (!_disposing)
        {
            if (Check(FinalAcquirers) is { } notStarted)
            {
                return notStarted;
            }

            if (!Scheduler.RunUntilQuiescent())
            {
                return Scheduler.Failure;
            }

            if (Check(CheckEveryAcquireEnded) is { } final)
            {
                return final;
            }

            DisposePool("final dispose");
            if (!Scheduler.RunUntilQuiescent())
            {
                return Scheduler.Failure;
            }
        }

        return Check(CheckDisposed);
    }

    /// <summary>A logical thread that acquires and, if served, holds the lease for one step and returns it.</summary>
    public void Acquirer(string name, CancellationTokenSource? cancel = null, bool hold = false, Action<PoolLease<ExploredResource>>? whileHeld = null) =>
        Scheduler.Spawn(name, () =>
        {
            if (Acquire(name, cancel?.Token ?? default) is { } lease)
            {
                whileHeld?.Invoke(lease);
                Scheduler.Point(name + " holds " + lease.Resource);
                if (!hold)
                {
                    Return(name, lease);
                }
            }
        });

    /// <summary>An event that cancels <paramref name="cancel"/>, enabled while the acquirer has not ended.</summary>
    public void Canceller(string acquirer, CancellationTokenSource cancel) =>
        Scheduler.AddEvent("cancel " + acquirer, () => !Ended(acquirer), cancel.Cancel);

    /// <summary>A logical thread that clears the pool.</summary>
    public void Clearer(string name) =>
        Scheduler.Spawn(name, () =>
        {
            ValueTask clear = Pool.ClearAsync();
            Scheduler.WaitUntil("ClearAsync", () => clear.IsCompleted);
            clear.GetAwaiter().GetResult();
        });

    /// <summary>
    /// A logical thread that pauses the pool, shrinks it to one, grows it back to
    /// <see cref="ConnectionPoolOptions.MaxSize"/> and resumes it, with a scheduling point between every two steps.
    /// </summary>
    public void Resizer(string name) =>
        Scheduler.Spawn(name, () =>
        {
            Pool.Pause();
            Scheduler.Point("paused");
            Pool.Resize(0, 1);
            Scheduler.Point("shrunk");
            Pool.Resize(0, Options.MaxSize);
            Scheduler.Point("grown");
            Pool.Resume();
        });

    /// <summary>A logical thread that disposes the pool.</summary>
    public void DisposePool(string name)
    {
        _disposing = true;
        Scheduler.Spawn(name, () =>
        {
            // The pool's drain signal continues on the thread pool (RunContinuationsAsynchronously): once it is set,
            // the rest of DisposeAsync (debug assertions, the meter) runs there, outside the scheduler.
            Task drained = (typeof(ConnectionPool<ExploredResource>).GetField("_drained", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(Pool) as TaskCompletionSource)?.Task
                ?? throw new InvalidOperationException("ConnectionPool._drained (a TaskCompletionSource) not found: update ExplorationRun.DisposePool to the pool's drain signal");
            ValueTask dispose = Pool.DisposeAsync();
            Scheduler.WaitUntil("DisposeAsync", () => dispose.IsCompleted || drained.IsCompleted);
            SpinUntil(() => dispose.IsCompleted, "DisposeAsync after the drain");
            dispose.GetAwaiter().GetResult();
        });
    }

    /// <summary>Acquires on the calling logical thread: the lease, or <see langword="null"/> with the exception recorded as the outcome.</summary>
    public PoolLease<ExploredResource>? Acquire(string name, CancellationToken cancellationToken)
    {
        if (!_acquirers.Add(name))
        {
            throw new InvalidOperationException($"two acquirers named {name}");
        }

        _acquireCalls++;
        _peakInFlight = Math.Max(_peakInFlight, ++_inFlight);
        PoolLease<ExploredResource> lease;
        bool reportedSuccess = false;
        try
        {
            ValueTask<PoolLease<ExploredResource>> acquire = Pool.AcquireAsync(cancellationToken);
            Scheduler.WaitUntil(name + " acquire", () => IsDecided(acquire));

            reportedSuccess = acquire.IsCompletedSuccessfully;

            lease = acquire.GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is PoolExhaustedException or OperationCanceledException or ObjectDisposedException or ResourceCreationException
            || (ex is InvalidOperationException && ex.Message.Contains("(scripted)", StringComparison.Ordinal)))
        {
            Ended(name, ex.GetType().Name);
            _inFlight--;
            if (_scenario.ChecksTaskStatus && reportedSuccess)
            {
                throw new InvariantViolationException($"{name}'s acquire failed with {ex.GetType().Name} but its task reports IsCompletedSuccessfully");
            }

            return null;
        }

        ExploredResource resource = lease.Resource;
        if (resource.HeldBy is { } other)
        {
            throw new InvalidOperationException($"{resource} handed to {name} while {other} holds it");
        }

        if (resource.DestroyStarted)
        {
            throw new InvalidOperationException($"{resource} handed to {name} after its destruction began");
        }

        resource.HeldBy = name;
        Ended(name, "lease " + resource);
        return lease;
    }

    /// <summary>Returns a lease on the calling logical thread and, unless told otherwise, waits for the return to finish.</summary>
    /// <param name="name">The holder.</param>
    /// <param name="lease">Its lease.</param>
    /// <param name="wait">Whether to wait for an asynchronous reset (<see cref="PoolLease{T}.DisposeAsync"/>) or not (<see cref="PoolLease{T}.Dispose"/>).</param>
    public void Return(string name, PoolLease<ExploredResource> lease, bool wait = true)
    {
        // A caller counts as concurrent until its call returns (the pool's synchronous part of the return is done);
        // an asynchronous reset still running after that is the pool's, and must not make anybody create.
        lease.Resource.HeldBy = null;
        if (!wait)
        {
            lease.Dispose();
            _inFlight--;
            return;
        }

        ValueTask returned = lease.DisposeAsync();
        _inFlight--;
        Scheduler.WaitUntil(name + " return", () => returned.IsCompleted);
        returned.GetAwaiter().GetResult();
    }

    /// <summary>Whether the acquirer has its outcome.</summary>
    public bool Ended(string name) => _outcomes.Exists(o => o.StartsWith(name + ":", StringComparison.Ordinal));

    public void Dispose() => Scheduler.Dispose();

    /// <summary>Whether an acquire's outcome is decided (its result delivered, by a scheduler event).</summary>
    private static bool IsDecided(ValueTask<PoolLease<ExploredResource>> acquire) => acquire.IsCompleted;

    /// <summary>Waits (really) for something the thread pool finishes right after the scheduler saw it decided.</summary>
    private static void SpinUntil(Func<bool> condition, string what)
    {
        if (!SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)))
        {
            throw new TimeoutException($"not within 10 s: {what}");
        }
    }

    private void Ended(string name, string outcome)
    {
        if (Ended(name))
        {
            throw new InvalidOperationException($"{name} ended twice: {outcome}");
        }

        _outcomes.Add(name + ": " + outcome);
    }

    private void FinalAcquirers()
    {
        // Every slot is usable again, except one the pool waits out: a check or destruction that never ends, which the
        // pool could not abandon because its abandonment budget (MaxSize abandoned operations still running) is spent
        // by work that never ends either; serving from that slot would exceed live + abandoned <= 2 x MaxSize.
        PoolStatistics s = Pool.GetStatistics();
        int waitedOut = s.AbandonedRunning >= Options.MaxSize ? s.Leased + s.Destroying : 0;
        Require(
            waitedOut == 0 || Policy.Hung > 0,
            $"slots held ({s.Leased} leased, {s.Destroying} destroying) after everything ended can only be waited-out work that never ends");
        int usable = Options.MaxSize - waitedOut;
        var served = new List<PoolLease<ExploredResource>>();
        int unserved = 0;
        for (int i = 0; i < Options.MaxSize; i++)
        {
            string name = "final" + i.ToString(CultureInfo.InvariantCulture);
            Scheduler.Spawn(name, () =>
            {
                PoolLease<ExploredResource>? lease = Acquire(name, default);
                if (lease is null)
                {
                    string outcome = _outcomes.Find(o => o.StartsWith(name + ":", StringComparison.Ordinal))!;
                    if (++unserved <= waitedOut && outcome.Contains(nameof(PoolExhaustedException), StringComparison.Ordinal))
                    {
                        return;
                    }

                    Scheduler.Note(State());
                    throw new InvalidOperationException($"slot not usable again: {name} was not served after everything ended ({outcome}; slots waited out: {waitedOut})");
                }

                served.Add(lease.Value);
                Require(served.Count <= usable, $"final acquirers served ({served.Count}) <= slots not waited out ({usable})");

                // Every usable slot leased at once.
                Scheduler.WaitUntil("all final acquirers served", () => served.Count == usable);
                Return(name, lease.Value);
            });
        }
    }

    /// <summary>The clock and the pool's counts, for the trace.</summary>
    public string State()
    {
        PoolStatistics s = Pool.GetStatistics();
        return string.Create(
            CultureInfo.InvariantCulture,
            $"clock {Time.GetTimestamp() / TimeSpan.TicksPerMillisecond} ms; waiting {s.Waiting}, idle {s.Idle}, leased {s.Leased}, creating {s.Creating}, destroying {s.Destroying}, returning {s.Returning}; resources alive {Policy.Alive}");
    }

    private void FireTimer()
    {
        _timerFiringsLeft--;
        Scheduler.Note(State());
        Time.FireNext(s_horizon);
    }

    private void MoveClock()
    {
        _clockStepsLeft--;
        Time.Advance(_scenario.ClockStep);
    }

    private bool WireDelivery()
    {
        object? queue = typeof(ConnectionPool<ExploredResource>).GetField("_waiters", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(Pool);
        FieldInfo? hook = queue?.GetType().GetField("TestHookDeliver", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
        if (hook is null)
        {
            return false;
        }

        int deliveries = 0;
        hook.SetValue(queue, (Action<IThreadPoolWorkItem>)(item =>
        {
            if (!Scheduler.OnControlledThread)
            {
                Scheduler.Point("a waiter completed");
                return;
            }

            deliveries++;
            Scheduler.AddEvent("deliver a waiter's result " + deliveries.ToString(CultureInfo.InvariantCulture), static () => true, item.Execute);
        }));
        return true;
    }

    private int WireHooks()
    {
        int wired = 0;
        foreach (FieldInfo field in typeof(ConnectionPool<ExploredResource>).GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public))
        {
            if (field.FieldType == typeof(Action) && field.Name.StartsWith("TestHook", StringComparison.Ordinal))
            {
                string where = field.Name["TestHook".Length..];
                field.SetValue(Pool, (Action)(() => Scheduler.Point(where)));
                wired++;
            }
        }

        return wired;
    }

    private static Exception? Check(Action check)
    {
        try
        {
            check();
            return null;
        }
#pragma warning disable CA1031 // A failed check is the schedule's failure.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ex;
        }
    }

    /// <summary>At every scheduling point: the bounds that hold at every instant.</summary>
    private void CheckEveryStep()
    {
        PoolStatistics s = Pool.GetStatistics();
        int alive = Policy.Alive;
        MaxAlive = Math.Max(MaxAlive, alive);
        Require(s.Live <= Options.MaxSize, $"live ({s.Live}) <= MaxSize ({Options.MaxSize})");
        int allowance = _scenario.AliveAllowance ?? Options.MaxSize;
        Require(alive <= Options.MaxSize + allowance, $"resources alive ({alive}: created, destruction not completed) <= MaxSize ({Options.MaxSize}) + abandoned allowance ({allowance})");

        // No surplus creation: N callers at once never cause more than N resources; beyond that, a creation replaces a
        // destroyed resource or retries a failed creation.
        int destroyed = Policy.Resources.Count(r => r.DestroyStarted || r.GivenUp);
        // Creations failed: as the pool counts them, which includes a creation it gave up on (abandoned: it ignored its
        // token past its bound) and replaces; the pool may count as failed only creations that failed or were still
        // running at their bound.
        int failed = (int)s.TotalCreationFailures;
        Require(
            failed <= Policy.CreationFailures + Policy.CreationsPastTheirBound,
            $"creation failures the pool counts ({failed}) <= creations failed ({Policy.CreationFailures}) + creations still running at their bound ({Policy.CreationsPastTheirBound})");
        Require(
            Policy.CreationsStarted <= _peakInFlight + destroyed + failed,
            $"no surplus creation: creations started ({Policy.CreationsStarted}) <= callers at once at most ({_peakInFlight}) + resources destroyed or given up on ({destroyed}) + creations failed ({failed})");
    }

    /// <summary>At the end of phase 1, nothing enabled: the invariants at rest.</summary>
    private void CheckAtRest()
    {
        bool settled = Policy.Pending == 0;
        Pool.AssertInvariantsQuiescent(countersSettled: settled);
        PoolStatistics s = Pool.GetStatistics();

        // No stranded waiter: somebody waits only while something can still serve it (a lease held, a resource on
        // its way, or a back-off after a failed creation, an abandoned one included: the pool wakes its waiters when
        // the back-off ends).
        if (s.Waiting > 0 && s.TotalCreationFailures == 0 && Policy.Pending == 0 && s.Leased == 0 && s.Creating == 0 && !_disposing)
        {
            Require(false, $"{s.Waiting} waiter(s) stranded: nothing leased, nothing on its way, live {s.Live} of {Options.MaxSize}");
        }

        if (settled && !_disposing)
        {
            // Conservation: every resource not destroyed is idle or leased.
            int kept = Policy.Resources.Count(r => !r.DestroyStarted);
            Require(kept == s.Idle + s.Leased, $"conservation: resources kept ({kept}) = idle ({s.Idle}) + leased ({s.Leased})");
        }
    }

    private void CheckEveryAcquireEnded()
    {
        foreach (LogicalThread thread in Scheduler.Unfinished)
        {
            Require(false, $"{thread.Name} never ended (at {thread.Where}) although the policy healed and the clock ran");
        }

        foreach (string name in _acquirers)
        {
            Require(_outcomes.Count(o => o.StartsWith(name + ":", StringComparison.Ordinal)) == 1, $"exactly one outcome for {name}");
        }

        if (!_disposing)
        {
            Pool.AssertInvariantsQuiescent(countersSettled: Policy.Hung == 0);
        }

        // The counters agree with what the callers saw.
        PoolStatistics s = Pool.GetStatistics();
        int timeouts = _outcomes.Count(o => o.EndsWith(": " + nameof(PoolExhaustedException), StringComparison.Ordinal));
        Require(s.TotalTimeouts == timeouts, $"TotalTimeouts ({s.TotalTimeouts}) = acquires that timed out ({timeouts})");
        if (_scenario.ChecksCanceledCount)
        {
            int canceled = _outcomes.Count(o => o.EndsWith(": " + nameof(OperationCanceledException), StringComparison.Ordinal) || o.EndsWith(": " + nameof(TaskCanceledException), StringComparison.Ordinal));
            Require(s.TotalAcquiresCanceled == canceled, $"TotalAcquiresCanceled ({s.TotalAcquiresCanceled}) = acquires cancelled ({canceled})");
        }
    }

    private void CheckDisposed()
    {
        CheckEveryAcquireEnded();
        ExploredResource[] leftOver = Policy.Resources.Where(r => !r.DestroyStarted && r.HeldBy is null).ToArray();
        if (Policy.Hung == 0)
        {
            Require(leftOver.Length == 0, $"after disposal every resource is destroyed; left: {string.Join(", ", leftOver.Select(r => r.ToString()))}");
        }
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvariantViolationException(what);
        }
    }
}
