namespace PoolKit.Npgsql;

/// <summary>
/// Thrown when the server ended the session (a FATAL error) before the transaction's record arrived: the server sends the
/// record before it reads the <c>COMMIT</c>, and its FATAL message after it on the same stream, so the <c>COMMIT</c>
/// never ran and nothing of the unit was committed (transient, in every phase).
/// </summary>
internal sealed class NeverReachedCommitException(string message, Exception lost) : Exception(message, lost);
