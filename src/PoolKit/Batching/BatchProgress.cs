namespace PoolKit;

/// <summary>A progress report of a running batch. Counts never go backwards between reports.</summary>
/// <param name="Committed">Items committed so far.</param>
/// <param name="Failed">Items failed for good so far.</param>
/// <param name="Unknown">Items whose commit outcome is unknown so far.</param>
/// <param name="Retried">Unit retries so far.</param>
/// <param name="InFlight">Items in units being run now.</param>
/// <param name="Elapsed">Time since the batch started.</param>
/// <param name="ItemsPerSecond">Committed items per second since the start.</param>
public readonly record struct BatchProgress(long Committed, long Failed, long Unknown, long Retried, long InFlight, TimeSpan Elapsed, double ItemsPerSecond);
