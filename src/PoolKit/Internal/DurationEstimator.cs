namespace PoolKit.Internal;

/// <summary>
/// The exponentially weighted moving average of observed durations (creations, intervals between services), in
/// pool-clock ticks.
/// </summary>
/// <remarks>Concurrency: <see cref="_mean"/> by CAS, <see cref="_samples"/> by Interlocked (saturating); readers read racily, which only blurs an estimate.</remarks>
internal sealed class DurationEstimator
{
    private readonly int _minSamples;
    private readonly int _weight;
    private long _mean;
    private int _samples;

    /// <param name="minSamples">How many samples an estimate needs.</param>
    /// <param name="weight">The inverse weight of a new sample: each moves the mean by 1/<paramref name="weight"/> of its difference.</param>
    public DurationEstimator(int minSamples, int weight = 4)
    {
        _minSamples = minSamples;
        _weight = weight;
    }

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
            long next = first ? duration : old + ((duration - old) / _weight);
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
