namespace PoolKit.Npgsql;

/// <summary>
/// Thrown by a built-in mode's operation when the connection was lost after its unit's <c>COMMIT</c> was sent and the
/// server could not tell afterwards whether it committed: the unit's outcome is unknown, in whichever phase the runner
/// sees the error (the <c>COMMIT</c> travels with the statements, in the operation).
/// </summary>
internal sealed class CommitOutcomeUnknownException(string message, Exception lost) : Exception(message, lost);
