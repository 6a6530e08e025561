namespace PoolKit.Npgsql;

/// <summary>How a commit whose connection was lost ended, as far as the server can tell.</summary>
internal enum CommitOutcome
{
    /// <summary>The server cannot tell.</summary>
    Unknown,

    /// <summary>The transaction committed.</summary>
    Committed,

    /// <summary>The transaction did not commit.</summary>
    RolledBack,
}
