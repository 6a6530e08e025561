using System.Globalization;
using NpgsqlTypes;

namespace PoolKit.Npgsql;

/// <summary>The record of a unit's transaction as read (see <see cref="NpgsqlCommitSettler.RecordColumns"/>): numbers, no strings.</summary>
/// <param name="TransactionId">The transaction's id (xid8), or null when it had none.</param>
/// <param name="InsertLsn">The WAL insert position after the transaction's writes, or null on a standby.</param>
/// <param name="Timeline">The WAL timeline, or null on a standby.</param>
internal readonly record struct RecordedValues(ulong? TransactionId, ulong? InsertLsn, int? Timeline)
{
    /// <summary>The text forms the settling query takes (xid8 and pg_lsn as text, the timeline as a WAL file name's 8 hex digits).</summary>
    public CommitRecord ToCommitRecord() => new(
        TransactionId?.ToString(CultureInfo.InvariantCulture),
        InsertLsn is { } lsn ? new NpgsqlLogSequenceNumber(lsn).ToString() : null,
        Timeline?.ToString("X8", CultureInfo.InvariantCulture));
}
