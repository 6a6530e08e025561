namespace PoolKit.Cli.Demo;

/// <summary>
/// The committed count of a running way, for the progress bar. Written by the inserting workers (or the runner's
/// progress callback) with <see cref="Interlocked"/>, read by the display loop; it never goes backwards.
/// </summary>
internal sealed class InsertProgress : IProgress<BatchProgress>
{
    private long _committed;

    /// <summary>Gets the rows committed so far.</summary>
    public long Committed => Interlocked.Read(ref _committed);

    /// <summary>Counts one more committed row.</summary>
    public void AddOne() => Interlocked.Increment(ref _committed);

    /// <summary>Counts <paramref name="rows"/> more committed rows (a hand-written chunk or COPY that committed).</summary>
    /// <param name="rows">How many rows committed.</param>
    public void Add(long rows) => Interlocked.Add(ref _committed, rows);

    /// <inheritdoc />
    public void Report(BatchProgress value)
    {
        // Reports may arrive out of order from different threads: keep the largest.
        long seen = Interlocked.Read(ref _committed);
        while (value.Committed > seen)
        {
            long previous = Interlocked.CompareExchange(ref _committed, value.Committed, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
