using System.Globalization;
using System.Text;

namespace PoolKit.Tests.Exploration;

/// <summary>
/// Runs many schedules of a scenario: random walks (one seed per schedule) or a bounded depth-first search, and stops
/// at the first failure with the schedule that reproduces it.
/// </summary>
/// <remarks>
/// <c>POOLKIT_EXPLORE_SCHEDULES</c> sets the number of schedules per scenario and strategy (the CI default is each
/// test's own); <c>POOLKIT_EXPLORE_SEED</c> the first seed (default 0, so CI explores the same schedules every run).
/// </remarks>
internal static class Explorer
{
    public static int Schedules(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("POOLKIT_EXPLORE_SCHEDULES"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : ciDefault;

    private static int FirstSeed =>
        int.TryParse(Environment.GetEnvironmentVariable("POOLKIT_EXPLORE_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : 0;

    /// <summary>Random walks: schedule i uses seed <c>first seed + i</c>.</summary>
    public static ExplorationReport RandomWalks(Scenario scenario, int schedules)
    {
        var report = new ExplorationReport(scenario.Name, "random walk");
        int first = FirstSeed;
        for (int i = 0; i < schedules; i++)
        {
            int seed = first + i;
            if (!RunOne(scenario, new RandomWalkStrategy(seed), report, $"seed {seed}"))
            {
                break;
            }
        }

        return report;
    }

    /// <summary>Depth-first over the decision tree with at most <paramref name="preemptionBound"/> preemptions, up to <paramref name="schedules"/> schedules.</summary>
    public static ExplorationReport DepthFirst(Scenario scenario, int schedules, int preemptionBound = 2)
    {
        var report = new ExplorationReport(scenario.Name, $"depth-first, preemption bound {preemptionBound}");
        var strategy = new DepthFirstStrategy(preemptionBound);
        for (int i = 0; i < schedules; i++)
        {
            if (!RunOne(scenario, strategy, report, "depth-first schedule " + i.ToString(CultureInfo.InvariantCulture)))
            {
                return report;
            }

            if (!strategy.Next())
            {
                report.Exhausted = true;
                break;
            }
        }

        return report;
    }

    /// <summary>Runs one recorded schedule again.</summary>
    public static ExplorationReport Replay(Scenario scenario, IReadOnlyList<int> choices)
    {
        var report = new ExplorationReport(scenario.Name, "replay");
        RunOne(scenario, new ReplayStrategy(choices), report, "replay");
        return report;
    }

    private static bool RunOne(Scenario scenario, IChoiceStrategy strategy, ExplorationReport report, string name)
    {
        using var run = new ExplorationRun(scenario, strategy);
        if (!run.DeliveriesControlled)
        {
            throw new InvalidOperationException("the exploration needs a Debug build of PoolKit: WaiterQueue.TestHookDeliver (compiled in Debug only) lets the scheduler deliver waiters' results; without it the thread pool does, at moments the scheduler does not control");
        }

        if (run.HooksWired == 0)
        {
            throw new InvalidOperationException("the pool has no TestHook* fields any more: the exploration would only switch at the policy's calls");
        }

        Exception? failure = run.Execute();
        report.Schedules++;
        report.Steps += run.Scheduler.Steps;
        report.MaxAlive = Math.Max(report.MaxAlive, run.MaxAlive);
        report.Distinct.Add(string.Join(',', run.Scheduler.Choices));
        foreach (string outcome in run.Outcomes)
        {
            string kind = outcome[(outcome.IndexOf(':', StringComparison.Ordinal) + 2)..];
            kind = kind.StartsWith("lease", StringComparison.Ordinal) ? "lease" : kind;
            report.OutcomeCounts[kind] = report.OutcomeCounts.GetValueOrDefault(kind) + 1;
        }

        if (failure is null)
        {
            return true;
        }

        report.Failure = failure;
        report.FailedSchedule = name;
        report.Choices = run.Scheduler.Choices.ToArray();
        report.Description = run.Scheduler.Describe() + "  at the end: " + run.State() + Environment.NewLine;
        return false;
    }
}

/// <summary>What an exploration did and found.</summary>
internal sealed class ExplorationReport(string scenario, string strategy)
{
    public string Scenario { get; } = scenario;

    public string Strategy { get; } = strategy;

    public int Schedules { get; set; }

    public long Steps { get; set; }

    public int MaxAlive { get; set; }

    public bool Exhausted { get; set; }

    public HashSet<string> Distinct { get; } = new();

    public Dictionary<string, int> OutcomeCounts { get; } = new();

    public Exception? Failure { get; set; }

    public string? FailedSchedule { get; set; }

    public int[]? Choices { get; set; }

    public string? Description { get; set; }

    /// <summary>One line for the test output: counts, outcomes, and the failure with its replayable schedule.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{Scenario} ({Strategy}): {Schedules} schedules ({Distinct.Count} distinct{(Exhausted ? ", tree exhausted" : string.Empty)}), {Steps} steps, max alive {MaxAlive}; outcomes: ");
        text.AppendJoin(", ", OutcomeCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}"));
        if (Failure is not null)
        {
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"FAILED at {FailedSchedule}: {Failure.GetType().Name}: {Failure.Message}").AppendLine();
            text.Append("replay: Explorer.Replay(scenario, [").AppendJoin(',', Choices!).Append("])").AppendLine();
            text.Append(Description);
            if (Failure.InnerException is { } inner)
            {
                text.AppendLine().Append(inner.ToString());
            }
        }

        return text.ToString();
    }
}
