using Xunit.Abstractions;

namespace PoolKit.Tests.Exploration;

/// <summary>
/// The pool's concurrency protocol explored systematically: each scenario runs many schedules under
/// <see cref="ControlledScheduler"/> (random walks with one seed per schedule, and a bounded depth-first search), with
/// the invariants checked at every scheduling point, at rest and at the end (see <see cref="ExplorationRun"/>). A
/// failure prints the schedule; <see cref="Explorer.Replay"/> runs it again.
/// </summary>
public sealed class ProtocolExplorationTests(ITestOutputHelper output)
{
    [Fact]
    public void AcquireVersusReturn_WithoutReset() => Explore(Scenarios.AcquireVersusReturn(resetting: false), 400, 200);

    private void Explore(Scenario scenario, int randomWalks, int depthFirst)
    {
        ExplorationReport random = Explorer.RandomWalks(scenario, Explorer.Schedules(randomWalks));
        output.WriteLine(random.ToString());
        Assert.True(random.Failure is null, random.ToString());
        if (depthFirst > 0)
        {
            ExplorationReport dfs = Explorer.DepthFirst(scenario, Explorer.Schedules(depthFirst));
            output.WriteLine(dfs.ToString());
            Assert.True(dfs.Failure is null, dfs.ToString());
        }
    }
}
