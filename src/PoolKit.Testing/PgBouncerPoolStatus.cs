namespace PoolKit.Testing;

/// <summary>One row of PgBouncer's <c>SHOW POOLS</c>: the client and server connections of a database and user pair.</summary>
/// <param name="Database">The database name clients use.</param>
/// <param name="User">The user name.</param>
/// <param name="ClientActive">Client connections linked to a server connection or idle without one (<c>cl_active</c>).</param>
/// <param name="ClientWaiting">Client connections waiting for a server connection (<c>cl_waiting</c>).</param>
/// <param name="ServerActive">Server connections linked to a client (<c>sv_active</c>).</param>
/// <param name="ServerIdle">Server connections idle and ready (<c>sv_idle</c>).</param>
/// <param name="ServerUsed">Server connections idle for longer than <c>server_check_delay</c> (<c>sv_used</c>).</param>
/// <param name="ServerTested">Server connections running their reset or check query (<c>sv_tested</c>).</param>
/// <param name="ServerLogin">Server connections logging in (<c>sv_login</c>).</param>
/// <param name="PoolMode">The pool mode (<c>pool_mode</c>).</param>
public sealed record PgBouncerPoolStatus(
    string Database,
    string User,
    int ClientActive,
    int ClientWaiting,
    int ServerActive,
    int ServerIdle,
    int ServerUsed,
    int ServerTested,
    int ServerLogin,
    string PoolMode)
{
    /// <summary>Gets every server connection of the pair, whatever its state.</summary>
    public int ServerTotal => ServerActive + ServerIdle + ServerUsed + ServerTested + ServerLogin;
}
