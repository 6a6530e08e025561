using System.Runtime.CompilerServices;
using Npgsql;
#if NET10_0_OR_GREATER
using Npgsql.Internal;
#endif

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// What one lease of a pooled <see cref="NpgsqlConnection"/> leaves on the connection object (not in the server
/// session) that must not reach the next lease: <c>Notice</c>/<c>Notification</c> handlers, and whether Npgsql has
/// statements prepared on it (which decides how the session may be reset).
/// </summary>
/// <remarks>
/// <para>Npgsql's own pool hands each open a new <see cref="NpgsqlConnection"/>, so handlers die with it; PoolKit hands
/// out the same object again, so it clears the events' backing fields on every return. The fields and Npgsql's
/// prepared-statement count are internal; they are reached through <see cref="UnsafeAccessorAttribute"/> (no
/// reflection, no allocation). If a future Npgsql renames them, the first call fails with
/// <see cref="MissingMemberException"/>, <see cref="s_unavailable"/> turns true, and: handlers are no longer cleared
/// (a test pins the behaviour for the Npgsql version we ship against), and the reset keeps prepared statements, which
/// is always safe for Npgsql's own.</para>
/// <para>Shared state: <see cref="s_unavailable"/>, written once (false → true) by any thread; a stale read costs one
/// more caught exception.</para>
/// </remarks>
#pragma warning disable NPG9001 // NpgsqlConnector is experimental: read through pinned accessors, with a fallback.
internal static class NpgsqlLeaseLeftovers
{
    private static volatile bool s_unavailable;

    /// <summary>Removes every <c>Notice</c> and <c>Notification</c> handler added to the connection.</summary>
    public static void ClearHandlers(NpgsqlConnection connection)
    {
        if (s_unavailable)
        {
            return;
        }

        try
        {
            NoticeField(connection) = null;
            NotificationField(connection) = null;
        }
        catch (MissingMemberException)
        {
            s_unavailable = true;
        }
    }

    /// <summary>Whether Npgsql has statements prepared on the connection (explicitly or automatically).</summary>
    /// <returns>The answer, or <see langword="null"/> when it cannot be read (treat as "yes": keep them).</returns>
    public static bool? HasPreparedStatements(NpgsqlConnection connection)
    {
#if NET10_0_OR_GREATER
        if (s_unavailable)
        {
            return null;
        }

        try
        {
            NpgsqlConnector? connector = GetConnector(connection);
            return connector is null ? null : NumPrepared(GetPreparedStatementManager(connector)) > 0;
        }
        catch (Exception ex) when (ex is MissingMemberException or TypeLoadException)
        {
            s_unavailable = true;
            return null;
        }
#else
        // Npgsql's prepared-statement manager is an internal type, which an accessor can name only from .NET 10 on.
        _ = connection;
        return null;
#endif
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "Notice")]
    private static extern ref NoticeEventHandler? NoticeField(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "Notification")]
    private static extern ref NotificationEventHandler? NotificationField(NpgsqlConnection connection);

#if NET10_0_OR_GREATER
    private const string PreparedStatementManagerType = "Npgsql.PreparedStatementManager, Npgsql";

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Connector")]
    private static extern NpgsqlConnector? GetConnector(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_PreparedStatementManager")]
    [return: UnsafeAccessorType(PreparedStatementManagerType)]
    private static extern object GetPreparedStatementManager(NpgsqlConnector connector);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "NumPrepared")]
    private static extern ref int NumPrepared([UnsafeAccessorType(PreparedStatementManagerType)] object manager);
#endif
}
#pragma warning restore NPG9001
