namespace PoolKit.Internal;

/// <summary>
/// Estimates how long a newcomer would wait in the queue from how fast the pool serves its waiters while the queue
/// is busy: the mean interval between two waiters served (an exponentially weighted moving average, weight 1/8), times
/// the newcomer's position.
/// </summary>
/// <remarks>
/// <para><b>Why this estimator.</b> While acquirers queue, every resource that comes back goes to the head of the
/// queue, so the interval between two services is the pool's own measure of <c>hold time / capacity</c>: it needs no
/// hold-time sample on the rent/return path (PERF: it is fed only by waiters, on the slow path), it follows a resize
/// and a slower server by itself, and it also counts resources a creation brought. A newcomer behind <c>n</c> waiters
/// is served after about <c>(n + 1) × interval</c>.</para>
/// <para><b>Samples.</b> Only an interval the queue was busy throughout is a sample: the waiter served now was already
/// waiting when the previous one was served. An interval that began with an empty queue measures idle time, not
/// service, and is dropped. Without <see cref="MinSamples"/> samples there is no estimate (the pool then never sheds).
/// Known limit: when nothing comes back at all (every lease stuck), no sample arrives and the estimate keeps its last
/// value; the acquire timeout still bounds every wait.</para>
/// <para><b>Concurrency.</b> <see cref="_lastServed"/> by Interlocked.Exchange, the average as
/// <see cref="DurationEstimator"/> keeps it; readers read them racily, which only blurs an estimate.</para>
/// </remarks>
internal sealed class QueueWaitEstimator
{
    /// <summary>How many samples an estimate needs.</summary>
    public const int MinSamples = 8;

    /// <summary>The pool-clock tick the last waiter was served at; 0 before the first.</summary>
    private long _lastServed;

    /// <summary>The moving average of the interval between two services while the queue was busy (pool-clock ticks).</summary>
    private readonly DurationEstimator _interval = new(MinSamples, weight: 8);

    /// <summary>Gets the mean interval between two services (pool-clock ticks), or -1 without enough samples.</summary>
    public long Interval => _interval.Mean;

    /// <summary>Gets the pool-clock tick the last waiter was served at; 0 before the first.</summary>
    public long LastServed => Volatile.Read(ref _lastServed);

    /// <summary>Records a waiter served.</summary>
    /// <param name="waitStart">When the waiter began waiting (pool clock).</param>
    /// <param name="now">When it was served (pool clock, exact).</param>
    public void Served(long waitStart, long now)
    {
        long previous = Interlocked.Exchange(ref _lastServed, now);
        if (previous == 0 || waitStart > previous || now < previous)
        {
            return;
        }

        _interval.Record(now - previous);
    }

    /// <summary>Forgets when the last waiter was served, so the next interval (one that spans a pause) is not a sample.</summary>
    public void Restart() => Interlocked.Exchange(ref _lastServed, 0);

    /// <summary>The expected wait of a newcomer with <paramref name="ahead"/> waiters ahead of it (pool-clock ticks), or -1 without an estimate.</summary>
    public long Estimate(int ahead)
    {
        long interval = Interval;
        return interval < 0 ? -1 : (ahead + 1L) * interval;
    }
}
