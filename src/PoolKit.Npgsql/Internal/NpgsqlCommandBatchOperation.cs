using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// The operation of the per-item SQL mode: one <see cref="NpgsqlBatchCommand"/> per item of a unit, all sent as one
/// <see cref="NpgsqlBatch"/> (one round trip) inside the unit's transaction.
/// </summary>
/// <remarks>
/// <para>Immutable after construction and shared by every worker of a run. Npgsql sends the batch's statements with
/// a single Sync after them, so the first failing command aborts the transaction and the runner rolls the whole unit
/// back: no item of a failed unit is ever committed.</para>
/// <para>With an <see cref="NpgsqlTransactionHandler"/> (the default), the unit is one round trip:
/// <c>BEGIN</c>, the record of the transaction's id, the statements and <c>COMMIT</c> go together
/// (<see cref="NpgsqlTransactionHandler.RunUnitAsync"/>), and the runner's commit only releases the transaction.
/// With another handler, the statements are sent here and the handler commits.</para>
/// </remarks>
internal sealed class NpgsqlCommandBatchOperation<TItem>
{
    private readonly string _commandText;
    private readonly Action<NpgsqlParameterCollection, TItem> _bindParameters;
    private readonly NpgsqlTransactionHandler? _pipeline;

    public NpgsqlCommandBatchOperation(string commandText, Action<NpgsqlParameterCollection, TItem> bindParameters, NpgsqlTransactionHandler? pipeline)
    {
        _commandText = commandText;
        _bindParameters = bindParameters;
        _pipeline = pipeline;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ExecuteAsync(BatchUnit<NpgsqlConnection, NpgsqlTransaction, TItem> unit, CancellationToken cancellationToken)
    {
        if (_pipeline is not null && NpgsqlCommitSettler.IsSupported(unit.Resource))
        {
            // Not canceled once sent: the COMMIT travels with the statements, and a commit that started finishes.
            cancellationToken.ThrowIfCancellationRequested();
            NpgsqlUnitBatch unitBatch = NpgsqlUnitBatch.Rent(unit.Resource, unit.Transaction);
            AddCommands(unitBatch.Batch, unit.Items.Span);
            await _pipeline.RunUnitAsync(unitBatch, unit.Transaction).ConfigureAwait(false);
            return;
        }

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
