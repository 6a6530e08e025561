namespace PoolKit.Tests.Exploration;

/// <summary>The explored scenarios (see <see cref="ProtocolExplorationTests"/>).</summary>
internal static class Scenarios
{
    /// <summary>Three acquirers on one slot, each acquiring, holding for a step and returning.</summary>
    public static Scenario AcquireVersusReturn(bool resetting) => new()
    {
        Name = resetting ? "acquire vs return (reset)" : "acquire vs return (no reset)",
        Resetting = resetting,
        ConfigureOptions = o => o.MaxSize = 1,
        ConfigurePolicy = p =>
        {
            p.CreateOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed];
            p.ResetOutcomes = [Outcome.SucceedAtOnce, Outcome.Succeed, Outcome.Fail];
        },
        Threads = run =>
        {
            run.Acquirer("a");
            run.Acquirer("b");
            run.Acquirer("c");
        },
    };
}
