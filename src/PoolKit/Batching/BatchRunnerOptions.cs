using PoolKit.Internal;

namespace PoolKit;

/// <summary>Settings of a <see cref="ParallelBatchRunner{TResource, TTransaction}"/>, validated when the runner is created.</summary>
public sealed class BatchRunnerOptions
{
    /// <summary>Gets or sets how many units run at once.</summary>
    /// <value>Default: <see langword="null"/>, meaning the pool's MaxSize minus <see cref="ReservedConnections"/>. Never above that: a larger value is refused, not clamped.</value>
    public int? MaxDegreeOfParallelism { get; set; }

    /// <summary>Gets or sets how many of the pool's connections the batch leaves to the application's other traffic.</summary>
    /// <value>Default: 0. Between 0 and the pool's MaxSize − 1.</value>
    public int ReservedConnections { get; set; }

    /// <summary>Gets or sets how many items one transaction commits atomically.</summary>
    /// <value>Default: 1. At least 1.</value>
    public int ItemsPerTransaction { get; set; } = 1;

    /// <summary>Gets or sets what happens when an item fails for good.</summary>
    /// <value>Default: <see cref="BatchFailurePolicy.StopOnFirstFailure"/>.</value>
    public BatchFailurePolicy FailurePolicy { get; set; } = BatchFailurePolicy.StopOnFirstFailure;

    /// <summary>Gets or sets, with <see cref="BatchFailurePolicy.ContinueOnFailure"/>, after how many failed items the batch stops.</summary>
    /// <value>Default: <see langword="null"/> (never). At least 1 when set.</value>
    public int? MaxFailures { get; set; }

    /// <summary>Gets or sets how many times one unit is run again after a transient error.</summary>
    /// <value>Default: 5. At least 0.</value>
    public int MaxRetriesPerUnit { get; set; } = 5;

    /// <summary>Gets or sets how many retries the whole batch may spend; once spent, transient errors fail their units.</summary>
    /// <value>Default: 1,000. At least 0.</value>
    public int RetryBudget { get; set; } = 1_000;

    /// <summary>Gets or sets the pause before the first retry of a unit; it doubles with each retry, with jitter.</summary>
    /// <value>Default: 20 milliseconds. Zero or positive.</value>
    public TimeSpan RetryBackoffInitial { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Gets or sets the longest pause between retries of a unit.</summary>
    /// <value>Default: 1 second. At least <see cref="RetryBackoffInitial"/>.</value>
    public TimeSpan RetryBackoffMax { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets whether the operation is idempotent, so a unit whose commit outcome is unknown may be run
    /// again. When <see langword="false"/>, such items are reported as <see cref="BatchItemOutcome.Unknown"/>.
    /// </summary>
    /// <value>Default: <see langword="false"/>.</value>
    public bool IdempotentOperation { get; set; }

    /// <summary>Gets or sets whether a multi-item unit that fails for good is split in halves, recursively, so the good items still commit and only the bad ones fail.</summary>
    /// <value>Default: <see langword="true"/>.</value>
    public bool BisectFailedUnits { get; set; } = true;

    /// <summary>
    /// Gets or sets how long the rollback of a failed unit may take. Past it the rollback is abandoned and the
    /// connection destroyed (closing it ends the transaction on the server), so a frozen server cannot hold the batch.
    /// </summary>
    /// <value>Default: 10 seconds. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</value>
    public TimeSpan RollbackTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how often progress is reported.</summary>
    /// <value>Default: 250 milliseconds. Positive.</value>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Gets or sets how many failures the result lists one by one; the counts include every failure.</summary>
    /// <value>Default: 10,000. At least 0.</value>
    public int MaxRecordedFailures { get; set; } = 10_000;

    /// <summary>Creates an independent copy of these options.</summary>
    /// <returns>The copy.</returns>
    public BatchRunnerOptions Clone() => (BatchRunnerOptions)MemberwiseClone();

    /// <summary>Checks every rule against a pool of <paramref name="poolMaxSize"/> and returns one message per violation.</summary>
    /// <param name="poolMaxSize">The MaxSize of the pool the batch runs on.</param>
    /// <returns>The violations; empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate(int poolMaxSize)
    {
        var errors = new List<string>();
        if (ReservedConnections < 0 || ReservedConnections >= poolMaxSize)
        {
            errors.Add(OptionErrors.Describe(nameof(ReservedConnections), ReservedConnections, $"must be between 0 and the pool's MaxSize - 1 ({poolMaxSize - 1})"));
        }

        int available = poolMaxSize - Math.Max(0, ReservedConnections);
        if (MaxDegreeOfParallelism is { } dop && (dop < 1 || dop > available))
        {
            errors.Add(OptionErrors.Describe(nameof(MaxDegreeOfParallelism), dop, $"must be between 1 and the pool's MaxSize ({poolMaxSize}) minus ReservedConnections ({ReservedConnections}) = {available}; more parallelism than connections only queues"));
        }

        if (ItemsPerTransaction < 1)
        {
            errors.Add(OptionErrors.Describe(nameof(ItemsPerTransaction), ItemsPerTransaction, "must be at least 1"));
        }

        if (MaxFailures is < 1)
        {
            errors.Add(OptionErrors.Describe(nameof(MaxFailures), MaxFailures.Value, "must be at least 1, or null for no limit"));
        }

        if (MaxRetriesPerUnit < 0)
        {
            errors.Add(OptionErrors.Describe(nameof(MaxRetriesPerUnit), MaxRetriesPerUnit, "must be 0 or more"));
        }

        if (RetryBudget < 0)
        {
            errors.Add(OptionErrors.Describe(nameof(RetryBudget), RetryBudget, "must be 0 or more"));
        }

        if (RetryBackoffInitial < TimeSpan.Zero)
        {
            errors.Add(OptionErrors.Describe(nameof(RetryBackoffInitial), RetryBackoffInitial, "must be zero or positive"));
        }

        if (RetryBackoffMax < RetryBackoffInitial)
        {
            errors.Add(OptionErrors.Describe(nameof(RetryBackoffMax), RetryBackoffMax, $"must be at least RetryBackoffInitial ({RetryBackoffInitial})"));
        }

        if (RollbackTimeout != Timeout.InfiniteTimeSpan && (RollbackTimeout <= TimeSpan.Zero || RollbackTimeout.TotalMilliseconds > int.MaxValue))
        {
            errors.Add(OptionErrors.Describe(nameof(RollbackTimeout), RollbackTimeout, "must be positive and at most int.MaxValue milliseconds, or Timeout.InfiniteTimeSpan"));
        }

        if (ProgressInterval <= TimeSpan.Zero)
        {
            errors.Add(OptionErrors.Describe(nameof(ProgressInterval), ProgressInterval, "must be positive"));
        }

        if (MaxRecordedFailures < 0)
        {
            errors.Add(OptionErrors.Describe(nameof(MaxRecordedFailures), MaxRecordedFailures, "must be 0 or more"));
        }

        return errors;
    }
}
