namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// DIAGNOSTIC ONLY: a <see cref="TimeProvider"/> whose timestamps come from <see cref="Environment.TickCount64"/>
/// (millisecond resolution, about 4 ns a read here) instead of <see cref="System.Diagnostics.Stopwatch"/> (about
/// 20 ns a read here). Rows that use it show how much of PoolKit's hot path is spent reading the clock; they are
/// not a recommendation to users (histograms lose their resolution).
/// </summary>
public sealed class MillisecondTimeProvider : TimeProvider
{
    /// <summary>Gets the shared instance.</summary>
    public static MillisecondTimeProvider Instance { get; } = new();

    /// <inheritdoc />
    public override long TimestampFrequency => 1000;

    /// <inheritdoc />
    public override long GetTimestamp() => Environment.TickCount64;
}
