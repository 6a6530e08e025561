namespace PoolKit.Cli.Sizing;

/// <summary>What one pool size achieved.</summary>
/// <param name="PoolSize">The pool's MaxSize.</param>
/// <param name="Transactions">Transactions that started and committed within the measured window.</param>
/// <param name="Errors">Transactions that failed with a transient error (serialization failure, deadlock) in the window.</param>
/// <param name="Seconds">The measured window, in seconds.</param>
/// <param name="P50Milliseconds">Median latency: from asking the pool for a connection to the commit.</param>
/// <param name="P99Milliseconds">99th-percentile latency, measured the same way.</param>
/// <param name="MaxMilliseconds">The slowest transaction.</param>
/// <param name="ConnectionsOpened">Physical connections the pool opened.</param>
internal sealed record SizeMeasurement(
    int PoolSize,
    long Transactions,
    long Errors,
    double Seconds,
    double P50Milliseconds,
    double P99Milliseconds,
    double MaxMilliseconds,
    long ConnectionsOpened)
{
    /// <summary>Gets committed transactions per second.</summary>
    public double Throughput => Seconds > 0 ? Transactions / Seconds : 0;
}
