using System.Globalization;

namespace PoolKit.Npgsql;

/// <summary>What was read in the commit's round trip, before the <c>COMMIT</c>.</summary>
/// <param name="TransactionId">The transaction's id (xid8, as text), or null when it had none (it wrote nothing).</param>
/// <param name="InsertLsn">The WAL insert position after the transaction's writes, as text.</param>
/// <param name="Timeline">The WAL timeline, as the 8 hex digits of a WAL file name.</param>
internal sealed record CommitRecord(string? TransactionId, string? InsertLsn, string? Timeline)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"xid {TransactionId ?? "none"}, lsn {InsertLsn}, timeline {Timeline}");
}
