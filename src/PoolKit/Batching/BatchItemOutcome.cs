namespace PoolKit;

/// <summary>How an item ended. Every item the runner read ends in exactly one of these.</summary>
public enum BatchItemOutcome
{
    /// <summary>Its transaction committed.</summary>
    Committed,

    /// <summary>Its unit failed for good; nothing of it was committed.</summary>
    Failed,

    /// <summary>Its unit's commit was interrupted: it may or may not be committed.</summary>
    Unknown,

    /// <summary>It never ran, or its transaction was rolled back because the batch stopped: nothing of it was committed and it is safe to run again.</summary>
    NotStarted,
}
