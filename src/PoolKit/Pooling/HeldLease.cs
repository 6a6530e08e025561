namespace PoolKit;

/// <summary>A lease that was outstanding when a diagnostic was taken, for finding leaks and slow users.</summary>
/// <param name="HeldFor">How long the lease had been held.</param>
/// <param name="AcquiredAt">The stack trace of the acquire, when <see cref="ConnectionPoolOptions.LeakDetectionThreshold"/> is set; otherwise <see langword="null"/>.</param>
public readonly record struct HeldLease(TimeSpan HeldFor, string? AcquiredAt);
