using System.Diagnostics.Metrics;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>
/// Counts one pool's acquires that waited longer than a threshold, from the pool's own wait-time histogram
/// (<c>db.client.connection.wait_time</c> of meter <see cref="PoolKitTelemetry.MeterName"/>), and keeps the longest
/// such wait, until <see cref="Take"/> hands both over and starts again.
/// </summary>
/// <remarks>
/// <para>A wait is recorded by the pool when it ends with a connection; a wait that ends in a timeout is counted by
/// the pool's statistics instead (<see cref="PoolStatistics.TotalTimeouts"/>). While this listener exists, the pool
/// reads the precise clock once per hand-out (as it does whenever its wait-time histogram is exported).</para>
/// <para>Shared state: <see cref="_slowWaits"/> and <see cref="_longestTicks"/>, written by the threads that hand out
/// connections (Interlocked) and exchanged by <see cref="Take"/>; a wait recorded between the two exchanges is
/// counted in one window and its length in the next, which only shifts a number between two checks.</para>
/// </remarks>
internal sealed class SlowWaitRecorder : IDisposable
{
    private const string WaitTimeInstrument = "db.client.connection.wait_time";

    private readonly MeterListener _listener;
    private readonly IMeterFactory? _meterFactory;
    private readonly string _poolName;
    private readonly double _thresholdSeconds;
    private long _slowWaits;
    private long _longestTicks;

    /// <param name="poolName">The pool's name, as its measurements carry it.</param>
    /// <param name="threshold">How long a wait must be to count.</param>
    /// <param name="meterFactory">The factory the pool's meter came from (the container's), so that a pool of the same
    /// name in another container is not heard; <see langword="null"/> when the pool owns its meter.</param>
    public SlowWaitRecorder(string poolName, TimeSpan threshold, IMeterFactory? meterFactory)
    {
        _poolName = poolName;
        _meterFactory = meterFactory;
        _thresholdSeconds = threshold.TotalSeconds;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == PoolKitTelemetry.MeterName
                    && instrument.Name == WaitTimeInstrument
                    && (_meterFactory is null || ReferenceEquals(instrument.Meter.Scope, _meterFactory)))
                {
                    listener.EnableMeasurementEvents(instrument, this);
                }
            },
        };
        _listener.SetMeasurementEventCallback<double>(static (_, seconds, tags, state) => ((SlowWaitRecorder)state!).OnWait(seconds, tags));
        _listener.Start();
    }

    /// <summary>Gets the threshold a wait must exceed to count.</summary>
    public TimeSpan Threshold => TimeSpan.FromSeconds(_thresholdSeconds);

    /// <summary>Returns the slow waits counted since the previous call, and the longest of them, and starts again.</summary>
    public (long Count, TimeSpan Longest) Take() =>
        (Interlocked.Exchange(ref _slowWaits, 0), TimeSpan.FromTicks(Interlocked.Exchange(ref _longestTicks, 0)));

    /// <summary>
    /// Forgets one slow wait of the current window: the health check's own probe, which waited longer than the
    /// threshold (for a connection to be opened, typically), is not a caller's wait.
    /// </summary>
    public void ForgetOne()
    {
        long count = Volatile.Read(ref _slowWaits);
        while (count > 0)
        {
            long previous = Interlocked.CompareExchange(ref _slowWaits, count - 1, count);
            if (previous == count)
            {
                return;
            }

            count = previous;
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnWait(double seconds, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        // PERF: the common measurement (a short wait, or none) returns before the tags are looked at.
        if (seconds <= _thresholdSeconds || !IsThisPool(tags))
        {
            return;
        }

        Interlocked.Increment(ref _slowWaits);
        long ticks = TimeSpan.FromSeconds(seconds).Ticks;
        long seen = Volatile.Read(ref _longestTicks);
        while (ticks > seen)
        {
            long previous = Interlocked.CompareExchange(ref _longestTicks, ticks, seen);
            if (previous == seen)
            {
                break;
            }

            seen = previous;
        }
    }

    private bool IsThisPool(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == PoolKitTelemetry.PoolNameTag)
            {
                return tag.Value is string name && name == _poolName;
            }
        }

        return false;
    }
}
