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
    public void AcquireVersusReturn_WithoutReset() => Explore(Scenarios.AcquireVersusReturn(resetting: false));

    [Fact]
    public void AcquireVersusReturn_WithReset() => Explore(Scenarios.AcquireVersusReturn(resetting: true));

    [Fact]
    public void AcquireVersusReturn_WithResetThatMayFail() => Explore(Scenarios.AcquireVersusReturn(resetting: true, resetsFail: true));

    [Fact]
    public void SequentialCaller_AsynchronousReset() => Explore(Scenarios.SequentialCaller());

    /// <summary>Found issue 19's defect 9 (seed 33 of the random walk) before its fix: four resources for three callers; see <see cref="ExplorationReplayTests"/>.</summary>
    [Fact]
    public void Defect_9_RoomyPool_NoSurplusCreation() => Explore(Scenarios.RoomyPool());

    [Fact]
    public void Creation_SucceedsFailsOrHangs() => Explore(Scenarios.Creation());

    /// <summary>Finds issue 19's defect 4 at once (seed 0): a creation that ignores its token keeps its slot forever, so after everything healed a final acquirer times out with a free slot.</summary>
    [Fact]
    public void Defect_4_Creation_HangingIgnoringItsToken() => Explore(Scenarios.CreationIgnoringItsToken());

    [Fact]
    public void Validation_WithoutReset() => Explore(Scenarios.Validation(resetting: false));

    [Fact]
    public void Validation_WithReset() => Explore(Scenarios.Validation(resetting: true));

    /// <summary>Finds issue 19's defect 1 at once (seed 0): with a window of zero and an asynchronous validation, the released slot is validated again at every hand-off and the schedule exceeds its step bound.</summary>
    [Fact]
    public void Defect_1_Validation_EveryHandOut() => Explore(Scenarios.ValidationEveryHandOut());

    /// <summary>Finds issue 19's defect 3 at once (seed 0): an acquirer's own validation that ignores its token keeps the slot forever, so a final acquirer of the MaxSize-1 pool times out.</summary>
    [Fact]
    public void Defect_3_Validation_OwnValidationIgnoringItsToken() => Explore(Scenarios.OwnValidationIgnoringItsToken());

    [Fact]
    public void Cancellation_WithoutReset() => Explore(Scenarios.Cancellation(resetting: false));

    [Fact]
    public void Cancellation_WithReset() => Explore(Scenarios.Cancellation(resetting: true));

    [Fact]
    public void Timeout() => Explore(Scenarios.Timeout());

    /// <summary>Finds issue 19's defect 5 at once: a cancelled or timed-out acquire's task reports <c>IsCompletedSuccessfully</c>.</summary>
    [Fact]
    public void Defect_5_Cancellation_FailedAcquireDoesNotReportSuccess() => Explore(Scenarios.Cancellation(resetting: false, checksTaskStatus: true));

    /// <summary>Finds issue 19's defect 11 at once: an acquire whose token was cancelled before the call is not counted in <c>TotalAcquiresCanceled</c>.</summary>
    [Fact]
    public void Defect_11_Cancellation_EveryCancelledAcquireCounted() => Explore(Scenarios.Cancellation(resetting: false, checksCanceledCount: true));

    [Fact]
    public void Clear() => Explore(Scenarios.Clear());

    [Fact]
    public void ResizeAndPause() => Explore(Scenarios.ResizeAndPause());

    [Fact]
    public void Dispose() => Explore(Scenarios.Dispose());

    /// <summary>Abandoned resets, validations and destructions, every invariant but the bound on live resources (see <see cref="Defect_8_Abandonment_WithinMaxSizePlusMaxSize"/>).</summary>
    [Fact]
    public void Abandonment() => Explore(Scenarios.Abandonment(aliveAllowance: int.MaxValue / 2));

    /// <summary>Finds issue 19's defect 8 (seed 23 of the random walk): three resources alive with MaxSize 1, the abandoned ones freeing their slot with no bound.</summary>
    [Fact]
    public void Defect_8_Abandonment_WithinMaxSizePlusMaxSize() => Explore(Scenarios.Abandonment(aliveAllowance: null));

    private void Explore(Scenario scenario, int randomWalks = 400, int depthFirst = 400)
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
