using System.Data;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Npgsql;
using Npgsql.Internal;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// Moves a leased connection's physical connector into a second, short-lived <see cref="NpgsqlConnection"/> object for
/// the rest of one open of a <see cref="PoolKitDbConnection"/>, and back into the pooled object when that open ends,
/// leaving the short-lived object closed with no connector. A caller who kept the raw reference the data source handed
/// out (<see cref="PoolKitDbConnection.NpgsqlConnection"/>) then holds a closed connection: its commands throw
/// <see cref="InvalidOperationException"/> ("Connection is not open") and its <see cref="NpgsqlConnection.State"/>
/// reads <see cref="ConnectionState.Closed"/>, as with Npgsql's own pool, instead of running on the next user's session.
/// </summary>
/// <remarks>
/// <para>The short-lived object is built by Npgsql's internal constructor
/// <c>NpgsqlConnection(NpgsqlDataSource, NpgsqlConnector)</c>, the one Npgsql itself uses to hand a bound connection to
/// a connection initializer (and then marks disposed, for the same reason). It binds the connector both ways
/// (<c>Connection.Connector</c> and <c>NpgsqlConnector.Connection</c>, which routes notices, notifications and the
/// broken-connection state to the object) and sets the state to Open. Detaching an object sets <c>Connector</c> to
/// null and <c>_fullState</c> to Closed without raising <c>StateChange</c>; attaching does the reverse. The members
/// are internal to Npgsql and reached through <see cref="UnsafeAccessorAttribute"/> (they are the same in Npgsql 8.0
/// through 10.0.3); <see cref="Probe"/> checks once per process that every one binds. Where one does not, the caller
/// falls back to destroying the connection on return (a kept reference is then a disposed connection).</para>
/// <para>Whether the internals are usable is kept by an <see cref="InternalsProbe"/>.</para>
/// </remarks>
#pragma warning disable NPG9001 // NpgsqlConnector is experimental: moved through pinned accessors, with a fallback.
internal static class NpgsqlConnectorHandover
{
    private static readonly InternalsProbe s_probe = new(MembersBind);

    /// <summary>Gets whether the handover can run in this process (probing once if needed).</summary>
    public static bool IsAvailable => s_probe.IsAvailable;

    /// <summary>Checks, without a connection, that every internal member binds.</summary>
    /// <returns>Whether the handover is available.</returns>
    public static bool Probe()
        => s_probe.Probe();

    /// <summary>
    /// Moves the connector of <paramref name="pooled"/> (open, idle or not) into a new connection object, leaving
    /// <paramref name="pooled"/> closed with no connector until <see cref="Restore"/>.
    /// </summary>
    /// <param name="pooled">The pool's connection object, open.</param>
    /// <returns>The new object, open on the same connector; <see langword="null"/> when the handover is unavailable
    /// or <paramref name="pooled"/> has no connector (the caller then falls back).</returns>
    public static NpgsqlConnection? Lend(NpgsqlConnection pooled)
    {
        if (!IsAvailable)
        {
            return null;
        }

        try
        {
            NpgsqlConnector? connector = GetConnector(pooled);
            NpgsqlDataSource? dataSource = GetDataSource(pooled);
            if (connector is null || dataSource is null)
            {
                return null;
            }

            // Binds the connector to the new object (connector.Connection = lent) and sets it Open. The logger is
            // otherwise set by Open, which this object never ran (Close logs through it).
            NpgsqlConnection lent = NewBound(dataSource, connector);
            GetConnectionLogger(lent) = GetConnectionLogger(pooled);

            // Order: detach the pooled object only once the new one holds the connector.
            SetConnector(pooled, null);
            GetFullState(pooled) = ConnectionState.Closed;
            return lent;
        }
        catch (MissingMemberException)
        {
            s_probe.TurnOff();
            return null;
        }
    }

    /// <summary>
    /// Moves the connector back from <paramref name="lent"/> into <paramref name="pooled"/> and leaves
    /// <paramref name="lent"/> closed with no connector (any later use of it throws, as on a closed connection).
    /// </summary>
    /// <param name="lent">The object <see cref="Lend"/> returned.</param>
    /// <param name="pooled">The pool's connection object.</param>
    /// <param name="connector">The connector <see cref="Lend"/> moved (<see cref="LentConnector"/> read right after it).</param>
    /// <returns><see langword="false"/> when <paramref name="lent"/> no longer holds <paramref name="connector"/> (its
    /// caller closed it, or Npgsql found the session broken and released it): <paramref name="pooled"/> stays closed
    /// and must be destroyed. A session the caller opened on <paramref name="lent"/> since (<c>ChangeDatabase</c>,
    /// <c>Close</c> then <c>Open</c>) is not the pool's: it is closed here.</returns>
    public static bool Restore(NpgsqlConnection lent, NpgsqlConnection pooled, object connector)
    {
        NpgsqlConnector? current = GetConnector(lent);
        if (!ReferenceEquals(current, connector))
        {
            if (current is not null)
            {
                CloseOwnSession(lent);
            }

            return false;
        }

        SetConnector(lent, null);
        GetFullState(lent) = ConnectionState.Closed;

        SetConnector(pooled, current);
        SetConnection(current, pooled);
        GetFullState(pooled) = ConnectionState.Open;
        return true;
    }

    /// <summary>Gets the connector a connection object holds, as an opaque identity (for <see cref="Restore"/>).</summary>
    /// <param name="connection">The connection object.</param>
    /// <returns>The connector, or <see langword="null"/>.</returns>
    public static object? LentConnector(NpgsqlConnection connection) => GetConnector(connection);

    private static void CloseOwnSession(NpgsqlConnection lent)
    {
        try
        {
            lent.Close();
        }
#pragma warning disable CA1031 // Best effort: a connection outside the pool, whose own failure must not keep the lease from returning.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private static bool MembersBind()
    {
        try
        {
            using var unopened = new NpgsqlConnection();
            _ = GetConnector(unopened);
            _ = GetDataSource(unopened);
            _ = GetFullState(unopened);
            _ = GetConnectionLogger(unopened);
            SetConnector(unopened, null);
        }
        catch (MissingMemberException)
        {
            return false;
        }

        // Called on null: a member that binds throws NullReferenceException when it runs; one that does not bind
        // throws MissingMemberException before.
        return Binds(static () => NewBound(null!, null!))
            && Binds(static () =>
            {
                SetConnection(null!, null);
                return true;
            });
    }

    private static bool Binds<TResult>(Func<TResult> call)
    {
        try
        {
            _ = call();
            return true;
        }
        catch (NullReferenceException)
        {
            return true;
        }
        catch (MissingMemberException)
        {
            return false;
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Constructor)]
    private static extern NpgsqlConnection NewBound(NpgsqlDataSource dataSource, NpgsqlConnector connector);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Connector")]
    private static extern NpgsqlConnector? GetConnector(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "set_Connector")]
    private static extern void SetConnector(NpgsqlConnection connection, NpgsqlConnector? connector);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_dataSource")]
    private static extern ref NpgsqlDataSource? GetDataSource(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_fullState")]
    private static extern ref ConnectionState GetFullState(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_connectionLogger")]
    private static extern ref ILogger GetConnectionLogger(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "set_Connection")]
    private static extern void SetConnection(NpgsqlConnector connector, NpgsqlConnection? connection);
}
#pragma warning restore NPG9001
