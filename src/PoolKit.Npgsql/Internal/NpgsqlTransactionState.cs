using System.Runtime.CompilerServices;
using Npgsql;
using Npgsql.Internal;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// Tells, without I/O, whether a connection has a transaction open, so that returning a connection outside a
/// transaction costs no round trip.
/// </summary>
/// <remarks>
/// <para>Npgsql tracks the server's transaction status (from every ReadyForQuery, so a raw <c>BEGIN</c> counts too) but
/// does not expose it publicly (npgsql/npgsql#3806). This reads Npgsql's internal <c>NpgsqlConnection.Connector</c>
/// and <c>NpgsqlConnector.InTransaction</c> through <see cref="UnsafeAccessorAttribute"/> (trimming- and AOT-safe,
/// read-only, no reflection). If a future Npgsql renames them, the accessor throws
/// <see cref="MissingMethodException"/> once, <see cref="IsAvailable"/> turns false, and callers fall back to the
/// public probe in <see cref="NpgsqlSessionReset"/> (one round trip per return). A test pins the fast path for the
/// Npgsql version we ship against.</para>
/// <para>Shared state: <see cref="s_unavailable"/>, written once (false → true) by any thread; a stale read only
/// costs one more caught exception.</para>
/// </remarks>
internal static class NpgsqlTransactionState
{
    private static volatile bool s_unavailable;

    /// <summary>Gets whether the in-process transaction status can be read.</summary>
    public static bool IsAvailable => !s_unavailable;

    /// <summary>
    /// Checks, without a connection, that the internal members bind, so a missing one is known when a pool is built
    /// rather than at its first return.
    /// </summary>
    /// <returns>Whether the in-process transaction status can be read.</returns>
    public static bool Probe()
    {
        if (s_unavailable)
        {
            return false;
        }

        try
        {
            using var unopened = new NpgsqlConnection();
            _ = GetConnector(unopened);
#pragma warning disable NPG9001
            _ = GetInTransaction(null!);
#pragma warning restore NPG9001
        }
        catch (NullReferenceException)
        {
            // Expected: the member binds, and then runs on null.
        }
        catch (MissingMemberException)
        {
            s_unavailable = true;
        }

        return !s_unavailable;
    }

    /// <summary>Reads whether a transaction is open or pending (begun, not yet sent) on an open connection.</summary>
    /// <returns><see langword="true"/>/<see langword="false"/>, or <see langword="null"/> when it cannot be known without I/O.</returns>
    public static bool? TryGetInTransaction(NpgsqlConnection connection)
    {
        if (s_unavailable)
        {
            return null;
        }

        try
        {
#pragma warning disable NPG9001 // NpgsqlConnector is marked experimental; we only read one flag and fall back if it moves.
            NpgsqlConnector? connector = GetConnector(connection);
            return connector is null ? null : GetInTransaction(connector);
#pragma warning restore NPG9001
        }
        catch (MissingMemberException)
        {
            s_unavailable = true;
            return null;
        }
    }

#pragma warning disable NPG9001
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Connector")]
    private static extern NpgsqlConnector? GetConnector(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_InTransaction")]
    private static extern bool GetInTransaction(NpgsqlConnector connector);
#pragma warning restore NPG9001
}
