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
    /// The default, and the same isolation and cost as Npgsql's own pool: an open (or failed) transaction is rolled
    /// back at return, and the session is reset to its initial state (<c>DISCARD ALL</c>, or, when statements are
    /// prepared, the statements Npgsql itself uses, which keep them) <b>in front of the next command</b>, in the
    /// same round trip. Costs no round trip when no transaction is open, one ROLLBACK otherwise.
    /// </summary>
    /// <remarks>
    /// Until the next command runs, an idle connection still holds what the last user left (a session advisory
    /// lock, a temporary table, LISTEN), exactly as in Npgsql's own pool; use <see cref="DiscardOnReturn"/> to release
    /// them at return. The queued reset uses Npgsql internals (see the README's "Reset" section); where they are
    /// not available (another Npgsql major version), this mode behaves as <see cref="DiscardOnReturn"/> and the pool
    /// logs that once when it is built.
    /// </remarks>
    Discard = 2,

    /// <summary>
    /// Like <see cref="Discard"/>, but the reset runs at return as its own round trip, before the connection is idle
    /// again: session advisory locks, temporary tables and LISTEN registrations are released at once instead of at
    /// the connection's next use. Costs one round trip on every return (two when a transaction was open); a waiter
    /// gets the connection once the reset is done.
    /// </summary>
    DiscardOnReturn = 3,
}
