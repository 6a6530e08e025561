namespace PoolKit.Internal;

/// <summary>
/// The moving average (weight 1/4) of observed durations, such as creations, in pool-clock ticks.
/// </summary>
/// <remarks>Concurrency: <see cref="_mean"/> by CAS, <see cref="_samples"/> by Interlocked (saturating); readers read racily, which only blurs an estimate.</remarks>
internal sealed class DurationEstimator
{
    private readonly int _minSamples;
    private long _mean;
    private int _samples;

    /// <param name="minSamples">How many samples an estimate needs.</param>
    public DurationEstimator(int minSamples) => _minSamples = minSamples;

    /// <summary>Gets the mean duration (pool-clock ticks), or -1 without enough samples.</summary>
    public long Mean => Volatile.Read(ref _samples) < _minSamples ? -1 : Volatile.Read(ref _mean);

    /// <summary>Records one duration.</summary>
    public void Record(long duration)
    {
        if (duration < 0)
        {
            return;
        }

        bool first = Volatile.Read(ref _samples) == 0;
        long old = Volatile.Read(ref _mean);
        while (true)
        {
            long next = first ? duration : old + ((duration - old) / 4);
            long seen = Interlocked.CompareExchange(ref _mean, next, old);
            if (seen == old)
            {
                break;
            }

            old = seen;
        }

        if (Volatile.Read(ref _samples) < _minSamples)
        {
            Interlocked.Increment(ref _samples);
        }
    }
}
