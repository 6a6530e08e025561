namespace PoolKit;

/// <summary>One unit of work handed to the caller's operation: its items, and the connection and transaction to write them with.</summary>
/// <typeparam name="TResource">The connection type.</typeparam>
/// <typeparam name="TTransaction">The transaction type.</typeparam>
/// <typeparam name="TItem">The item type.</typeparam>
/// <param name="Resource">The leased connection; do not keep it beyond the operation.</param>
/// <param name="Transaction">The open transaction; the runner commits or rolls it back.</param>
/// <param name="Items">The unit's items (one, or up to <see cref="BatchRunnerOptions.ItemsPerTransaction"/>).</param>
/// <param name="FirstIndex">The input position of the first item.</param>
/// <param name="Attempt">1 for the first run of this unit, then 2, 3… for retries.</param>
public readonly record struct BatchUnit<TResource, TTransaction, TItem>(
    TResource Resource,
    TTransaction Transaction,
    ReadOnlyMemory<TItem> Items,
    long FirstIndex,
    int Attempt)
    where TResource : class;
