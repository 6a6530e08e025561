namespace PoolKit.Npgsql;

/// <summary>What a caller may do after an error, as decided by <see cref="NpgsqlErrorClassifier.Classify"/>.</summary>
public enum NpgsqlErrorClass
{
    /// <summary>Retrying cannot help (a bug, a constraint violation, bad credentials, an exhausted pool, a cancellation).</summary>
    NotTransient = 0,

    /// <summary>Nothing was committed and the same work may succeed if retried (on a new connection when the old one broke).</summary>
    Transient = 1,

    /// <summary>
    /// The connection failed while the server may have been committing: the work may or may not have taken
    /// effect. Retry only if it is idempotent, or check first.
    /// </summary>
    OutcomeUnknown = 2,
}
