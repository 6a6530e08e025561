using System.Globalization;

namespace PoolKit;

/// <summary>
/// What a batch did. Every item read from the input is counted in exactly one of <see cref="Committed"/>,
/// <see cref="Failed"/>, <see cref="Unknown"/> and <see cref="NotStarted"/>.
/// </summary>
public sealed class BatchResult
{
    internal BatchResult(
        long read,
        long committed,
        long failed,
        long unknown,
        long retries,
        TimeSpan elapsed,
        bool canceled,
        bool stoppedOnFailure,
        IReadOnlyList<BatchItemFailure> failures)
    {
        Read = read;
        Committed = committed;
        Failed = failed;
        Unknown = unknown;
        NotStarted = read - committed - failed - unknown;
        Retries = retries;
        Elapsed = elapsed;
        Canceled = canceled;
        StoppedOnFailure = stoppedOnFailure;
        Failures = failures;
    }

    /// <summary>Gets how many items were read from the input (a stopped batch does not read the rest).</summary>
    public long Read { get; }

    /// <summary>Gets how many items were committed.</summary>
    public long Committed { get; }

    /// <summary>Gets how many items failed for good.</summary>
    public long Failed { get; }

    /// <summary>Gets how many items have an unknown commit outcome.</summary>
    public long Unknown { get; }

    /// <summary>Gets how many items read were never run, or were rolled back because the batch stopped.</summary>
    public long NotStarted { get; }

    /// <summary>Gets how many times units were run again after transient errors.</summary>
    public long Retries { get; }

    /// <summary>Gets how long the batch ran.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Gets the committed items per second.</summary>
    public double ItemsPerSecond => Elapsed > TimeSpan.Zero ? Committed / Elapsed.TotalSeconds : 0;

    /// <summary>Gets whether the caller's token stopped the batch.</summary>
    public bool Canceled { get; }

    /// <summary>Gets whether the failure policy stopped the batch.</summary>
    public bool StoppedOnFailure { get; }

    /// <summary>Gets whether every item read committed and the whole input was read.</summary>
    public bool Succeeded => !Canceled && !StoppedOnFailure && Committed == Read;

    /// <summary>Gets the failed and unknown items, in no particular order (at most <see cref="BatchRunnerOptions.MaxRecordedFailures"/>).</summary>
    public IReadOnlyList<BatchItemFailure> Failures { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"read {Read}, committed {Committed}, failed {Failed}, unknown {Unknown}, not started {NotStarted}, retries {Retries}, {Elapsed.TotalSeconds:0.###} s, {ItemsPerSecond:0} items/s{(Canceled ? ", canceled" : "")}{(StoppedOnFailure ? ", stopped on failure" : "")}");
}
