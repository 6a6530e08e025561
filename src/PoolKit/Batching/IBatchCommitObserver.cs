namespace PoolKit;

/// <summary>
/// Hears, while a <see cref="ParallelBatchRunner{TResource, TTransaction}"/> runs, which items have committed: one call
/// per unit, right after its transaction committed. Useful to checkpoint a long run, or to know exactly what went in
/// when a run stops early.
/// </summary>
/// <typeparam name="TItem">The item type.</typeparam>
/// <remarks>
/// Called concurrently from the runner's workers (one call per committed unit, never twice for an item); keep it short
/// and thread-safe. An exception from it stops the run, and <c>RunAsync</c> rethrows it once the units in flight have
/// settled (what committed stays committed).
/// </remarks>
public interface IBatchCommitObserver<TItem>
{
    /// <summary>Called after a unit committed.</summary>
    /// <param name="items">The unit's items, all committed.</param>
    /// <param name="firstIndex">The zero-based position of the first of them in the input.</param>
    void OnCommitted(ReadOnlyMemory<TItem> items, long firstIndex);
}
