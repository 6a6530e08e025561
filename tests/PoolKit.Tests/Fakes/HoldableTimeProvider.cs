namespace PoolKit.Tests.Fakes;

/// <summary>
/// The system clock, whose timers can be held: once <see cref="HoldTimers"/> is called, their callbacks are skipped.
/// A stress test uses it to stop the pool's background maintenance before it checks the pool at rest, so pruning,
/// retirement and top-ups cannot change the counts between two reads.
/// </summary>
public sealed class HoldableTimeProvider : TimeProvider
{
    private volatile bool _held;

    public override long TimestampFrequency => System.TimestampFrequency;

    public void HoldTimers() => _held = true;

    public override long GetTimestamp() => System.GetTimestamp();

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        System.CreateTimer(
            s =>
            {
                if (!_held)
                {
                    callback(s);
                }
            },
            state,
            dueTime,
            period);
}
