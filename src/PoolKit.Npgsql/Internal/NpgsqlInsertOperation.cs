using System.Globalization;
using System.Text;
using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// The operation of the insert mode: a unit's items written as one statement,
/// <c>INSERT INTO table (columns) SELECT * FROM unnest($1, ..., $n)</c> with one array parameter per column, or as one
/// binary <c>COPY</c> from <see cref="NpgsqlRowInsert{TItem}.CopyThreshold"/> items on.
/// </summary>
/// <remarks>
/// <para>Immutable after construction and shared by every worker of a run. The statement's text is the same for every
/// unit, whatever its size, so the server parses a short statement (and Npgsql can prepare it) where a multi-row
/// <c>VALUES</c> would be a new, long statement per size.</para>
/// <para>With an <see cref="NpgsqlTransactionHandler"/>, the <c>INSERT</c> unit is one round trip (<c>BEGIN</c>, the
/// record of the transaction's id, the statement, <c>COMMIT</c>). A COPY unit is the COPY inside the unit's transaction
/// and the runner's commit. Exactly once either way: a unit that fails is rolled back whole, and the runner bisects it
/// when it fails for good, so only a poison item is reported failed.</para>
/// </remarks>
internal sealed class NpgsqlInsertOperation<TItem>
{
    private readonly NpgsqlInsertColumn<TItem>[] _columns;
    private readonly string _insert;
    private readonly string _insertOne;
    private readonly string _insertOneRecording;
    private readonly string _copy;
    private readonly int _copyThreshold;
    private readonly NpgsqlTransactionHandler? _pipeline;

    public NpgsqlInsertOperation(NpgsqlRowInsert<TItem> insert, NpgsqlTransactionHandler? pipeline)
    {
        _columns = insert.Snapshot();
        _copyThreshold = insert.CopyThreshold;
        _pipeline = pipeline;
        string columns = string.Join(", ", _columns.Select(static c => c.Name));
        var unnest = new StringBuilder();
        for (int i = 1; i <= _columns.Length; i++)
        {
            unnest.Append(i == 1 ? "$" : ", $").Append(i.ToString(CultureInfo.InvariantCulture));
        }

        _insert = $"INSERT INTO {insert.Table} ({columns}) SELECT * FROM unnest({unnest})";
        _insertOne = $"INSERT INTO {insert.Table} ({columns}) VALUES ({unnest})";
        _insertOneRecording = $"{_insertOne} RETURNING {NpgsqlCommitSettler.RecordColumns}";
        _copy = $"COPY {insert.Table} ({columns}) FROM STDIN (FORMAT BINARY)";
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask ExecuteAsync(BatchUnit<NpgsqlConnection, NpgsqlTransaction, TItem> unit, CancellationToken cancellationToken)
    {
        if (unit.Items.Length >= _copyThreshold)
        {
            await CopyAsync(unit, cancellationToken).ConfigureAwait(false);
            return;
        }

        // PERF: a unit of one row binds plain values (VALUES): arrays of one cost the server an unnest for nothing. When
        // the unit carries the record (settling on), its one row returns it: one statement fewer per unit.
        ReadOnlySpan<TItem> items = unit.Items.Span;
        bool pipelined = _pipeline is not null && NpgsqlCommitSettler.IsSupported(unit.Resource);
        bool recordInInsert = pipelined && items.Length == 1 && _pipeline!.Records;
        var command = new NpgsqlBatchCommand(items.Length != 1 ? _insert : recordInInsert ? _insertOneRecording : _insertOne);
        foreach (NpgsqlInsertColumn<TItem> column in _columns)
        {
            command.Parameters.Add(items.Length == 1 ? column.CreateParameter(items[0]) : column.CreateArrayParameter(items));
        }

        if (pipelined)
        {
            // Not canceled once sent: the COMMIT travels with the statement, and a commit that started finishes.
            cancellationToken.ThrowIfCancellationRequested();
            NpgsqlUnitBatch unitBatch = NpgsqlUnitBatch.Rent(unit.Resource, unit.Transaction);
            unitBatch.Batch.BatchCommands.Add(command);
            await _pipeline!.RunUnitAsync(unitBatch, unit.Transaction, recordInInsert).ConfigureAwait(false);
            return;
        }

        var batch = new NpgsqlBatch(unit.Resource, unit.Transaction) { BatchCommands = { command } };
        await using (batch.ConfigureAwait(false))
        {
            _ = await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task CopyAsync(BatchUnit<NpgsqlConnection, NpgsqlTransaction, TItem> unit, CancellationToken cancellationToken)
    {
        NpgsqlBinaryImporter importer = await unit.Resource.BeginBinaryImportAsync(_copy, cancellationToken).ConfigureAwait(false);
        try
        {
            for (int i = 0; i < unit.Items.Length; i++)
            {
                TItem item = unit.Items.Span[i];
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                foreach (NpgsqlInsertColumn<TItem> column in _columns)
                {
                    await column.WriteAsync(importer, item, cancellationToken).ConfigureAwait(false);
                }
            }

            _ = await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await NpgsqlCopyOperation<TItem>.DisposeQuietlyAsync(importer).ConfigureAwait(false);
            throw;
        }

        await importer.DisposeAsync().ConfigureAwait(false);
    }
}
