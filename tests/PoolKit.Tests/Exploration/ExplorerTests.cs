namespace PoolKit.Tests.Exploration;

/// <summary>The exploration harness itself: a seed names one schedule, and a recorded schedule replays exactly.</summary>
public sealed class ExplorerTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(123)]
    public void RandomWalk_SameSeedTwice_TakesTheSameDecisions(int seed)
    {
        foreach (Scenario scenario in new[] { Scenarios.Creation(), Scenarios.Cancellation(resetting: true), Scenarios.Dispose(), Scenarios.Validation(resetting: false) })
        {
            int[] first = Run(scenario, new RandomWalkStrategy(seed));
            int[] second = Run(scenario, new RandomWalkStrategy(seed));
            Assert.True(first.SequenceEqual(second), $"{scenario}: seed {seed} gave [{string.Join(',', first)}] then [{string.Join(',', second)}]");
        }
    }

    [Fact]
    public void Replay_OfARecordedSchedule_TakesTheSameDecisions()
    {
        Scenario scenario = Scenarios.Clear();
        int[] recorded = Run(scenario, new RandomWalkStrategy(42));
        Assert.True(recorded.Length > 10, "a schedule with some decisions");
        Assert.Equal(recorded, Run(scenario, new ReplayStrategy(recorded)));
    }

    [Fact]
    public void DepthFirst_SmallTree_IsExhausted()
    {
        // Two acquirers on one slot, creations at once, no clock: a tree small enough to explore completely.
        var scenario = new Scenario
        {
            Name = "two acquirers",
            ConfigureOptions = o => o.MaxSize = 1,
            ConfigurePolicy = p => p.CreateOutcomes = [Outcome.SucceedAtOnce],
            TimerFirings = 0,
            Threads = run =>
            {
                run.Acquirer("a");
                run.Acquirer("b");
            },
        };

        ExplorationReport report = Explorer.DepthFirst(scenario, 10_000, preemptionBound: 1);
        Assert.True(report.Failure is null, report.ToString());
        Assert.True(report.Exhausted, report.ToString());
        Assert.Equal(report.Schedules, report.Distinct.Count);
    }

    private static int[] Run(Scenario scenario, IChoiceStrategy strategy)
    {
        using var run = new ExplorationRun(scenario, strategy);
        Assert.True(run.DeliveriesControlled, "the exploration needs a Debug build of PoolKit (WaiterQueue.TestHookDeliver)");
        Exception? failure = run.Execute();
        Assert.True(failure is null, failure?.ToString());
        return run.Scheduler.Choices.ToArray();
    }
}
