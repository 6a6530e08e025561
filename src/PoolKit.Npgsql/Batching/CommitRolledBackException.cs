namespace PoolKit.Npgsql;

/// <summary>
/// Thrown by <see cref="NpgsqlTransactionHandler.CommitAsync"/> when the connection was lost during the <c>COMMIT</c>
/// and the server reported afterwards that the transaction did not commit: running the unit again is safe.
/// </summary>
internal sealed class CommitRolledBackException(string message, Exception lost) : Exception(message, lost);
