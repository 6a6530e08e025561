namespace PoolKit.Npgsql;

/// <summary>What <see cref="NpgsqlConnectionPolicy"/> does to a connection when its lease is returned.</summary>
/// <remarks>
/// Every mode destroys, instead of resetting, a connection that is not plainly open (broken, closed, or still
/// executing or fetching because a reader was left open).
/// </remarks>
public enum NpgsqlResetMode
{
    /// <summary>
    /// Nothing is reset: an open transaction and all session state pass to the next user. Only for applications
    /// that always finish their transactions and never change session state. Costs nothing.
    /// </summary>
    None = 0,

    /// <summary>
    /// An open (or failed) transaction is rolled back; session state (SET, temporary tables, prepared statements,
    /// advisory locks, LISTEN) is kept. Costs no round trip when no transaction is open, one ROLLBACK otherwise.
    /// The same as Npgsql's <c>No Reset On Close=true</c>.
    /// </summary>
    RollbackOnly = 1,

    /// <summary>
    /// An open transaction is rolled back and the session is reset to its initial state with <c>DISCARD ALL</c>
    /// (or, when <c>Max Auto Prepare</c> is on, with the statements Npgsql itself uses, which keep its prepared
    /// statements). Costs one round trip on every return (two when a transaction was open). The default, and the
    /// same isolation as Npgsql's own pool.
    /// </summary>
    Discard = 2,
}
