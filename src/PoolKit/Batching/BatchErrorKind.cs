namespace PoolKit;

/// <summary>What an error means for a unit of work.</summary>
public enum BatchErrorKind
{
    /// <summary>Nothing was committed and running the unit again may succeed (serialization failure, deadlock, a connection lost before commit).</summary>
    Transient,

    /// <summary>Nothing was committed and running the unit again would fail the same way (a constraint violation, bad data, a bug).</summary>
    Permanent,

    /// <summary>The commit may or may not have happened (the connection broke during COMMIT). Replayed only for idempotent operations.</summary>
    OutcomeUnknown,
}
