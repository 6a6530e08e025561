namespace PoolKit.Cli.Demo;

/// <summary>The demo's report: one line per way, in the order they ran.</summary>
/// <param name="Runs">The ways, in the order they ran (those not run because the demo was stopped have <see cref="DemoRunResult.Ran"/> false).</param>
/// <param name="Canceled">Whether Ctrl+C stopped the demo.</param>
/// <param name="Parallelism">How many inserts ran at once in every way.</param>
internal sealed record DemoResult(IReadOnlyList<DemoRunResult> Runs, bool Canceled, int Parallelism)
{
    /// <summary>Gets whether every way ran, committed every row and passed its table check.</summary>
    public bool Succeeded => !Canceled && Runs.All(static r => r.Ran && r.Error is null && r.TableCheckPassed);
}
