namespace PoolKit.Tests.Exploration;

/// <summary>The explored scenarios (see <see cref="ProtocolExplorationTests"/>).</summary>
internal static class Scenarios
{
    /// <summary>Three acquirers on one slot, each acquiring, holding for a step and returning.</summary>
    /// <param name="resetting">Whether the policy resets (two-step return) or not (one-step return).</param>
    /// <param name="resetsFail">Whether a reset may also fail (the resource is then destroyed).</param>
    public static Scenario AcquireVersusReturn(bool resetting, bool resetsFail = false) => new()
    {
        Name = resetting ? (resetsFail ? "acquire vs return (reset, may fail)" : "acquire vs return (reset)") : "acquire vs return (no reset)",
        Resetting = resetting,
        ConfigureOptions = o => o.MaxSize = 1,
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = resetsFail ? [Outcome.SucceedAtOnce, Outcome.Succeed, Outcome.Fail] : [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
        },
    };

    /// <summary>
    /// One caller in a loop that returns without waiting for the asynchronous reset, on a pool of two: its next acquire
    /// meets its own previous lease still resetting and must wait for it, never create a second resource.
    /// </summary>
    public static Scenario SequentialCaller() => new()
    {
        Name = "sequential caller, asynchronous reset",
        Resetting = true,
        ConfigureOptions = o => o.MaxSize = 2,
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        TimerFirings = 0,
        Threads = run => run.Scheduler.Spawn("loop", () =>
        {
            for (int i = 0; i < 3; i++)
            {
                string name = "loop." + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (run.Acquire(name, default) is { } lease)
                {
                    run.Return(name, lease, wait: false);
                }
            }
        }),
    };

    /// <summary>
    /// Three callers on a pool of four, each acquiring and returning twice (asynchronous resets and creations): more
    /// room than callers, so a surplus creation is not stopped by MaxSize and the per-step check sees it.
    /// </summary>
    public static Scenario RoomyPool() => new()
    {
        Name = "three callers on a pool of four",
        Resetting = true,
        ConfigureOptions = o =>
        {
            o.MaxSize = 4;
            o.MaxConcurrentCreations = 4;
        },
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        TimerFirings = 0,
        Threads = run =>
        {
            foreach (string caller in new[] { "a", "b", "c" })
            {
                run.Scheduler.Spawn(caller, () =>
                {
                    for (int i = 0; i < 2; i++)
                    {
                        string name = caller + "." + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                        if (run.Acquire(name, default) is { } lease)
                        {
                            run.Scheduler.Point(name + " holds " + lease.Resource);
                            run.Return(name, lease, wait: i == 0);
                        }
                    }
                });
            }
        },
    };

    /// <summary>Three acquirers on two slots while creations succeed, fail or hang (honouring their token), with the back-off and the creation bound on the clock.</summary>
    public static Scenario Creation() => new()
    {
        Name = "creation success/failure/hang",
        ConfigureOptions = o =>
        {
            o.MaxSize = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
        },
        ConfigurePolicy = p => p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed, Outcome.Fail, Outcome.Hang],
        TimerFirings = 3,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
        },
    };

    /// <summary>A creation that ignores its token (never ends) among acquirers: must not hold a slot forever.</summary>
    public static Scenario CreationIgnoringItsToken() => new()
    {
        Name = "creation hangs ignoring its token",
        ConfigureOptions = o =>
        {
            o.MaxSize = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
        },
        ConfigurePolicy = p => p.CreateOutcomes = [Outcome.Succeed, Outcome.HangIgnoringToken],
        TimerFirings = 3,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
        },
    };

    /// <summary>Resources go stale (the clock moves past the validation window) and validations pass or fail, synchronously or not.</summary>
    public static Scenario Validation(bool resetting) => new()
    {
        Name = resetting ? "validation (reset)" : "validation (no reset)",
        Resetting = resetting,
        ConfigureOptions = o =>
        {
            o.MaxSize = 2;
            o.ValidationBypassWindow = TimeSpan.FromMilliseconds(500);
        },
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ValidateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed, Outcome.Fail];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        ClockSteps = 3,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
            run.Scheduler.Spawn("again", () =>
            {
                // A second round after the first lease went back: hand-outs of stale resources.
                if (run.Acquire("again.1", default) is { } first)
                {
                    run.Scheduler.Point("again.1 holds " + first.Resource);
                    run.Return("again.1", first);
                }

                if (run.Acquire("again.2", default) is { } second)
                {
                    run.Return("again.2", second);
                }
            });
        },
    };

    /// <summary>Validation of every hand-out (a window of zero), asynchronous: a waiter must still be served.</summary>
    public static Scenario ValidationEveryHandOut() => new()
    {
        Name = "validation of every hand-out (window 0)",
        ConfigureOptions = o =>
        {
            o.MaxSize = 1;
            o.ValidationBypassWindow = TimeSpan.Zero;
        },
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.Succeed];
            p.ValidateOutcomes = [Outcome.Succeed];
        },
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
        },
    };

    /// <summary>An acquirer's own validation of a stale resource hangs ignoring its token: the slot must become usable again.</summary>
    public static Scenario OwnValidationIgnoringItsToken() => new()
    {
        Name = "own validation hangs ignoring its token",
        ConfigureOptions = o =>
        {
            o.MaxSize = 1;
            o.ValidationBypassWindow = TimeSpan.FromMilliseconds(500);
            o.ValidationTimeout = TimeSpan.FromSeconds(1);
        },
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce];
            p.ValidateOutcomes = [Outcome.HangIgnoringToken];
        },
        TimerFirings = 2,
        Threads = run => run.Scheduler.Spawn("loop", () =>
        {
            if (run.Acquire("first", default) is { } first)
            {
                run.Return("first", first);
            }

            // The resource goes stale; the next acquire validates it itself.
            run.Time.Advance(TimeSpan.FromSeconds(1));
            if (run.Acquire("second", default) is { } second)
            {
                run.Return("second", second);
            }
        }),
    };

    /// <summary>Waiters cancelled at any point, racing returns, creations and each other.</summary>
    /// <param name="resetting">Whether the policy resets.</param>
    /// <param name="checksTaskStatus">Whether a failed acquire's task must not report success (issue 19, defect 5).</param>
    /// <param name="checksCanceledCount">Whether the pool must count every cancelled acquire (issue 19, defect 11).</param>
    public static Scenario Cancellation(bool resetting, bool checksTaskStatus = false, bool checksCanceledCount = false) => new()
    {
        Name = resetting ? "cancellation (reset)" : "cancellation (no reset)",
        ChecksTaskStatus = checksTaskStatus,
        ChecksCanceledCount = checksCanceledCount,
        Resetting = resetting,
        ConfigureOptions = o => o.MaxSize = 1,
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        Threads = run =>
        {
            var b = new CancellationTokenSource();
            var c = new CancellationTokenSource();
            run.Acquirer("a");
            run.Acquirer("b", b);
            run.Acquirer("c", c);
            run.Canceller("b", b);
            run.Canceller("c", c);
        },
    };

    /// <summary>Deadlines firing while leases come back and creations complete.</summary>
    public static Scenario Timeout() => new()
    {
        Name = "timeout",
        ConfigureOptions = o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(2);
        },
        ConfigurePolicy = p => p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed],
        TimerFirings = 4,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
        },
    };

    /// <summary>ClearAsync racing acquires, returns (with reset) and a creation.</summary>
    public static Scenario Clear() => new()
    {
        Name = "clear",
        Resetting = true,
        ConfigureOptions = o => o.MaxSize = 2,
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.DestroyOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        TimerFirings = 2,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
            run.Clearer("clear");
        },
    };

    /// <summary>Pause, shrink, resume and grow racing acquires, returns (with reset), creations and destructions.</summary>
    public static Scenario ResizeAndPause() => new()
    {
        Name = "resize and pause",
        Resetting = true,
        ConfigureOptions = o => o.MaxSize = 2,
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.DestroyOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        // No timer firings: a waiter left waiting after Resume must show as stranded, not time out.
        TimerFirings = 0,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
            run.Resizer("resize");
        },
    };

    /// <summary>DisposeAsync racing acquires, returns (with reset), creations and destructions.</summary>
    public static Scenario Dispose() => new()
    {
        Name = "dispose",
        Resetting = true,

        // No DisposeTimeout: its timer would be disposed by DisposeAsync's continuation, which the pool's drain signal
        // runs on the thread pool (RunContinuationsAsynchronously), at a moment the scheduler does not control.
        ConfigureOptions = o =>
        {
            o.MaxSize = 2;
            o.DisposeTimeout = System.Threading.Timeout.InfiniteTimeSpan;
        },
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.DestroyOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
        },
        TimerFirings = 2,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
            run.DisposePool("dispose");
        },
    };

    /// <summary>
    /// Resets, validations and destructions that hang ignoring their token: the pool abandons them after their bound.
    /// Live resources then exceed MaxSize by the abandoned ones (issue 19, defect 8): <paramref name="aliveAllowance"/>
    /// is how many the check tolerates.
    /// </summary>
    public static Scenario Abandonment(int? aliveAllowance) => new()
    {
        Name = "abandonment (hung reset/validation/destroy)",
        Resetting = true,
        ConfigureOptions = o =>
        {
            o.MaxSize = 1;
            o.AcquireTimeout = TimeSpan.FromSeconds(5);
            o.ResetTimeout = TimeSpan.FromSeconds(1);
            o.ValidationTimeout = TimeSpan.FromSeconds(1);
            o.DestroyTimeout = TimeSpan.FromSeconds(1);
            o.ValidationBypassWindow = TimeSpan.FromMilliseconds(500);
        },
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce];
            p.ResetOutcomes = [Outcome.Succeed, Outcome.Fail, Outcome.HangIgnoringToken];
            p.ValidateOutcomes = [Outcome.Succeed, Outcome.HangIgnoringToken];
            p.DestroyOutcomes = [Outcome.SucceedAtOnce, Outcome.HangIgnoringToken];
        },
        TimerFirings = 4,
        ClockSteps = 1,
        AliveAllowance = aliveAllowance,
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
        },
    };
}
