namespace PoolKit.Npgsql;

/// <summary>Where in a unit of work an error happened; it decides whether a lost connection lost a commit.</summary>
public enum NpgsqlOperationPhase
{
    /// <summary>Before any command of the unit of work was sent: acquiring or opening a connection, or beginning a transaction.</summary>
    BeforeCommand = 0,

    /// <summary>
    /// Inside an explicit transaction, before COMMIT was sent: if the connection is lost the server rolls the
    /// transaction back, so nothing was committed.
    /// </summary>
    InTransaction = 1,

    /// <summary>
    /// While committing: an explicit COMMIT, or any statement outside an explicit transaction (which commits by
    /// itself). A lost connection here leaves the outcome unknown.
    /// </summary>
    Commit = 2,
}
