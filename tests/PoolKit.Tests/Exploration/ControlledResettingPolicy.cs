namespace PoolKit.Tests.Exploration;

/// <summary>A <see cref="ControlledPolicy"/> that resets on every return (the pool's two-step return path).</summary>
internal sealed class ControlledResettingPolicy(ControlledScheduler scheduler) : ControlledPolicy(scheduler)
{
    public int Resets { get; private set; }

    public override ValueTask<bool> ResetAsync(ExploredResource resource, CancellationToken cancellationToken)
    {
        Scheduler.Point("policy.ResetAsync");
        CheckUsable(resource, "reset");
        Resets++;
        NoteGivingUp(resource, cancellationToken);
        return Run("reset " + resource, ResetOutcomes, () => true, () => false, null, cancellationToken);
    }
}
