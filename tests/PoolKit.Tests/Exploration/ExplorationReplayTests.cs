using Xunit.Abstractions;

namespace PoolKit.Tests.Exploration;

/// <summary>
/// Schedules the exploration found failing, replayed decision by decision (<see cref="Explorer.Replay"/>). Each was
/// watched to fail before its fix and pass after it. A replay is tied to the scheduling points of today's core (its test hooks and the
/// policy's calls): when they change, a replay may diverge and stop reproducing, so the scenario's exploration in
/// <see cref="ProtocolExplorationTests"/> stays the guard; the replay is the quick, focused one.
/// </summary>
public sealed class ExplorationReplayTests(ITestOutputHelper output)
{
    /// <summary>
    /// Found by <see cref="ProtocolExplorationTests.AcquireVersusReturn_WithResetThatMayFail"/> (random walk, seed 3001
    /// of POOLKIT_EXPLORE_SCHEDULES=4000; seed 176 before the scheduler put the running thread first). b's asynchronous
    /// reset ends, publishes r1 idle and stops before it leaves <c>_returning</c>; c's rescan hands r1 to the waiter a;
    /// a returns it, a's reset fails and r1 is destroyed: the slot is free and c waits, but the creation decision
    /// (waiting 1, returning 2, then 1) sees enough on its way, and b's tail, which kept its resource, does not look
    /// again. c waits with a free slot and nothing on its way until its deadline. Fixed: every reset's tail runs the
    /// creation decision again, kept or not (<c>EndOnItsWay</c>).
    /// </summary>
    [Fact]
    public void Defect_12_ResetTailThatKeptItsResourceEndsLast_WaiterGetsACreation() =>
        Replay(Scenarios.AcquireVersusReturn(resetting: true, resetsFail: true), [1, 1, 1, 0, 0, 0, 1, 2, 0, 2, 0, 1, 2, 2, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 2, 1, 0, 0]);

    /// <summary>
    /// The same stranding by another path, found by <see cref="ProtocolExplorationTests.Validation_WithReset"/> (random
    /// walk, seed 1307 of POOLKIT_EXPLORE_SCHEDULES=2000): a reset ends and publishes r1 idle, then stops before its
    /// tail; a hand-off validates the stale r1, the validation fails and r1 is destroyed; the validation's tail sees the
    /// reset still on its way, the reset's tail kept its resource and does not look again: the waiter again.2 is
    /// stranded with both slots free. Fixed as the one above.
    /// </summary>
    [Fact]
    public void Defect_12_ResetTailThatKeptItsResourceEndsAfterAFailedValidation_WaiterGetsACreation() =>
        Replay(Scenarios.Validation(resetting: true), [2, 1, 1, 2, 1, 3, 2, 0, 4, 1, 0, 4, 0, 1, 3, 1, 0, 1, 0, 1, 1, 1, 3, 2, 3, 0, 1, 1, 1, 2, 2, 1, 2, 2, 0, 1, 2, 0, 0, 0]);

    /// <summary>
    /// Found by <see cref="ProtocolExplorationTests.Defect_9_RoomyPool_NoSurplusCreation"/> (seed 33): b's rescan after
    /// enqueueing wins the idle r1 for the head of the queue, but b itself is served meanwhile (c's return hands r3 to
    /// it) and nobody waits any more; before the rescan puts r1 back, a newcomer sees nobody waiting, nothing idle and
    /// nothing on its way, and creates a fourth resource for three callers. A slot a rescan holds in transit was counted
    /// nowhere. Fixed: a transit counts in <c>_returning</c> from before it wins the slot, and the newcomer reads
    /// <c>_returning</c> again after its scan.
    /// </summary>
    [Fact]
    public void Defect_9_RescanHoldsAnIdleSlotWhileANewcomerScans_NoFourthResourceForThreeCallers() =>
        Replay(Scenarios.RoomyPool(), [2, 1, 2, 1, 0, 1, 2, 2, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 2, 2, 3, 3, 1, 0, 2, 2, 0, 0, 2, 3, 0, 0, 1, 3, 3, 2, 3, 3, 3, 0, 0, 3, 1, 2, 0, 1, 0, 1, 1, 0]);

    /// <summary>
    /// Found by <see cref="ProtocolExplorationTests.Timeout"/> (random walk, seed 4) once creations that ignore their
    /// token are abandoned: create1 is still running past AcquireTimeout plus grace, so the pool gives it up, counts it
    /// failed (back-off) and reports it to the waiter; its late resource is destroyed. The newcomer a then waits behind
    /// the back-off, with nothing leased or on its way and the policy having failed nothing: the pool wakes it when the
    /// back-off ends. The harness must count the abandoned creation as failed (it did not, and called a stranded waiter),
    /// and a must still end (served or timed out) once time runs.
    /// </summary>
    [Fact]
    public void Defect_4_AbandonedCreationBacksOff_ANewcomerWaitsForTheBackOff_NotStranded() =>
        Replay(Scenarios.Timeout(), [2, 2, 1, 1, 0, 0, 1, 2, 2, 3, 1, 2, 1, 2, 4, 3, 2, 1, 2, 2, 1, 2, 1]);

    /// <summary>
    /// Found by <see cref="ProtocolExplorationTests.Defect_4_Creation_HangingIgnoringItsToken"/> (seed 0) once such a
    /// creation is abandoned: its replacement is the third creation for two callers, a retry of a creation the pool
    /// counted failed, not a surplus one.
    /// </summary>
    [Fact]
    public void Defect_4_AbandonedCreationIsReplaced_NotASurplusCreation() =>
        Replay(Scenarios.CreationIgnoringItsToken(), [1, 1, 1, 1, 0, 1, 2, 1, 1, 1, 0, 1, 1, 1, 2, 0, 1, 1, 1, 0, 1, 1, 1, 0]);

    /// <summary>
    /// Found by <see cref="ProtocolExplorationTests.Defect_8_Abandonment_WithinMaxSizePlusMaxSize"/> (random walk,
    /// seed 23) once abandonment has a budget: r1's abandoned reset ends, its destruction hangs for ever (the budget of
    /// MaxSize 1 is spent), then r2's reset hangs ignoring its token: the pool waits it out, and a final acquirer is not
    /// served, since serving it would make three resources alive with MaxSize 1. Every other slot must still be usable.
    /// </summary>
    [Fact]
    public void Defect_8_BudgetSpentByWorkThatNeverEnds_TheSlotIsWaitedOut_NoThirdResource() =>
        Replay(Scenarios.Abandonment(aliveAllowance: null), [2, 2, 3, 1, 1, 1, 0, 2, 2, 2, 0, 1, 1, 1, 0, 1, 2, 1, 1, 1, 4, 1, 2, 0, 2, 0, 1, 1, 2]);

    /// <summary>
    /// Found by <see cref="ProtocolExplorationTests.Defect_8_Abandonment_WithinMaxSizePlusMaxSize"/> (depth-first schedule
    /// 2364 of POOLKIT_EXPLORE_SCHEDULES=3000): r1's reset hangs ignoring its token and is abandoned (the budget of MaxSize
    /// 1 spent); r2, created for the waiter b, fails its reset and its destruction hangs ignoring its token, so at its
    /// bound the pool waits it out (budget spent). Then r1's abandoned reset ends and gives the budget back, but the
    /// waited-out destruction did not look again: its slot stayed taken for ever and a final acquirer timed out.
    /// </summary>
    [Fact]
    public void Defect_8_DestructionWaitedOutWhileTheBudgetWasSpent_AbandonedOnceTheBudgetIsGivenBack() =>
        Replay(Scenarios.Abandonment(aliveAllowance: null), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2, 0, 2, 0, 1, 0, 1, 0]);

    private void Replay(Scenario scenario, int[] choices)
    {
        ExplorationReport report = Explorer.Replay(scenario, choices);
        output.WriteLine(report.ToString());
        Assert.True(report.Failure is null, report.ToString());
    }
}
