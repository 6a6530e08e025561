using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// The operation of the per-item SQL mode: one <see cref="NpgsqlBatchCommand"/> per item of a unit, all sent as one
/// <see cref="NpgsqlBatch"/> (one round trip) inside the unit's transaction.
/// </summary>
/// <remarks>
/// Immutable after construction and shared by every worker of a run. Npgsql sends the batch with a single Sync, so
/// the first failing command aborts the transaction and the runner rolls the whole unit back: no item of a failed
/// unit is ever committed.
/// </remarks>
internal sealed class NpgsqlCommandBatchOperation<TItem>
{
    private readonly string _commandText;
    private readonly Action<NpgsqlParameterCollection, TItem> _bindParameters;

    public NpgsqlCommandBatchOperation(string commandText, Action<NpgsqlParameterCollection, TItem> bindParameters)
    {
        _commandText = commandText;
        _bindParameters = bindParameters;
    }

    public async ValueTask ExecuteAsync(BatchUnit<NpgsqlConnection, NpgsqlTransaction, TItem> unit, CancellationToken cancellationToken)
    {
        var batch = new NpgsqlBatch(unit.Resource, unit.Transaction);
        await using (batch.ConfigureAwait(false))
        {
            AddCommands(batch, unit.Items.Span);
            _ = await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void AddCommands(NpgsqlBatch batch, ReadOnlySpan<TItem> items)
    {
        foreach (TItem item in items)
        {
            var command = new NpgsqlBatchCommand(_commandText);
            _bindParameters(command.Parameters, item);
            batch.BatchCommands.Add(command);
        }
    }
}
