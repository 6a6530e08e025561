namespace PoolKit;

/// <summary>What the runner does when an item fails for good.</summary>
public enum BatchFailurePolicy
{
    /// <summary>Stop at the first failed item: no new units start and units in flight roll back.</summary>
    StopOnFirstFailure,

    /// <summary>Keep going and collect failures, up to <see cref="BatchRunnerOptions.MaxFailures"/> if set.</summary>
    ContinueOnFailure,
}
