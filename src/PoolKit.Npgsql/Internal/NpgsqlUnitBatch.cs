using System.Runtime.CompilerServices;
using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// The batch a built-in mode sends its units in, one per connection and reused by every unit on it, with the record's
/// and the <c>COMMIT</c>'s commands made once (see <see cref="NpgsqlCommitSettler.ComposeUnit"/>).
/// </summary>
/// <remarks>
/// PERF: a unit of one item allocated a batch and two commands of its own; reused, they cost nothing per unit. A
/// connection is leased by one unit at a time, so its batch is never shared by two units at once. The batch is never
/// disposed: it lives as long as its connection (the table holds it weakly through the connection).
/// </remarks>
internal sealed class NpgsqlUnitBatch
{
    private static readonly ConditionalWeakTable<NpgsqlConnection, NpgsqlUnitBatch> s_byConnection = new();

    private NpgsqlUnitBatch(NpgsqlConnection connection)
    {
        Batch = new NpgsqlBatch(connection);
    }

    /// <summary>Gets the batch, on its connection.</summary>
    public NpgsqlBatch Batch { get; }

    /// <summary>Gets the record's statement, with its error barrier.</summary>
    public NpgsqlBatchCommand Record { get; } = new(NpgsqlCommitSettler.RecordSql) { AppendErrorBarrier = true };

    /// <summary>Gets the <c>COMMIT</c>.</summary>
    public NpgsqlBatchCommand Commit { get; } = new("COMMIT");

    /// <summary>The connection's batch, emptied and in <paramref name="transaction"/>.</summary>
    public static NpgsqlUnitBatch Rent(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        NpgsqlUnitBatch unit = s_byConnection.GetValue(connection, static c => new NpgsqlUnitBatch(c));
        unit.Batch.Transaction = transaction;
        unit.Batch.BatchCommands.Clear();
        return unit;
    }
}
