using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;
using Npgsql.Internal;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// Npgsql's own reset, armed on PoolKit's connections: at return, the connection's connector rolls back an open
/// transaction (a round trip only when one is open) and queues <c>DISCARD ALL</c> (or, when statements are prepared,
/// the reset that keeps them) in front of the next command, so a reset costs no round trip of its own.
/// </summary>
/// <remarks>
/// <para>Npgsql's pool arms this path per connector at open (<c>NpgsqlConnector._sendResetOnClose</c>, with the
/// message built by <c>GenerateResetMessage()</c>) and runs it from <c>NpgsqlConnection.Close</c> through
/// <c>NpgsqlConnector.Reset(bool)</c>; it is never armed on a non-pooled connector, and PoolKit's connectors are
/// non-pooled. This class arms the same flag after PoolKit opens a connection and calls the same <c>Reset</c> when
/// the lease is returned, leaving the connection open. The members are internal to Npgsql, so they are reached
/// through <see cref="UnsafeAccessorAttribute"/> (no reflection, trimming- and AOT-safe); they are identical from
/// Npgsql 8.0 through 10.0.3, and tests pin the behaviour for the version the package is built against.</para>
/// <para>Safety: the fast path is used only when every member binds (<see cref="Probe"/>, checked once per process
/// when the first pool is built) and the Npgsql major version is one this code was tested with; after each
/// <c>Reset</c> it checks that a reset is really queued (<c>PendingPrependedResponses</c> grew), and otherwise turns
/// itself off for the process. In every off case the caller falls back to a reset with its own round trip.</para>
/// <para>Whether the internals are usable is kept by an <see cref="InternalsProbe"/>.</para>
/// </remarks>
#pragma warning disable NPG9001 // NpgsqlConnector is experimental: read and armed through pinned accessors, with a fallback.
internal static class NpgsqlPrependedReset
{
    /// <summary>The Npgsql major version the accessors were checked against.</summary>
    internal const int TestedMajorVersion = 10;

    private static readonly InternalsProbe s_probe = new(static () => typeof(NpgsqlConnection).Assembly.GetName().Version?.Major == TestedMajorVersion && MembersBind());

    /// <summary>Gets whether the prepended reset can be used in this process (probing once if needed).</summary>
    public static bool IsAvailable => s_probe.IsAvailable;

    /// <summary>
    /// Checks, without a connection, that Npgsql's version is a tested one and that every internal member binds.
    /// </summary>
    /// <returns>Whether the prepended reset is available.</returns>
    public static bool Probe()
        => s_probe.Probe();

    /// <summary>
    /// Arms the reset on a freshly opened connection, as Npgsql's pool does at open.
    /// </summary>
    /// <returns>Whether the connection is armed; <see langword="false"/> means the caller must reset it itself.</returns>
    public static bool TryArm(NpgsqlConnection connection)
    {
        if (!IsAvailable)
        {
            return false;
        }

        try
        {
            NpgsqlConnector? connector = GetConnector(connection);
            if (connector is null || !connector.DatabaseInfo.SupportsDiscard)
            {
                return false;
            }

            if (!SendResetOnClose(connector))
            {
                GenerateResetMessage(connector);
                SendResetOnClose(connector) = true;
            }

            return true;
        }
        catch (MissingMemberException)
        {
            s_probe.TurnOff();
            return false;
        }
    }

    /// <summary>
    /// Queues the session reset of an armed, open connection in front of its next command, if it can be done
    /// without I/O.
    /// </summary>
    /// <returns>What happened, or what the caller must do first.</returns>
    public static QueueResult TryQueue(NpgsqlConnection connection)
    {
        if (s_probe.IsOff)
        {
            return QueueResult.Unavailable;
        }

        try
        {
            NpgsqlConnector? connector = GetConnector(connection);
            if (connector is null)
            {
                return QueueResult.Destroy;
            }

            if (!SendResetOnClose(connector))
            {
                // Not armed: not the connector PoolKit opened and armed, so its user closed and reopened the
                // connection (or changed its database). Destroy this one connection; the fast path stays on.
                return QueueResult.Destroy;
            }

            if (GetInTransaction(connector))
            {
                // The rollback must be an ordinary command so the caller's token can cancel it the way Npgsql cancels
                // any command; Reset would roll back too, but without a token.
                return QueueResult.RollbackFirst;
            }

            Task reset = Reset(connector, async: true);
            if (!reset.IsCompletedSuccessfully)
            {
                // Reset only awaits when a transaction is open, which was just ruled out. If that ever changes, the
                // connection's state is unknown: observe the task and destroy the connection.
                Observe(reset);
                return QueueResult.Destroy;
            }

            // Reset clears what was queued before (an unsent BEGIN, say) and then queues the session reset.
            if (GetPendingPrependedResponses(connector) == 0)
            {
                // Nothing was queued: this Npgsql no longer prepends from Reset. Turn the fast path off for good.
                s_probe.TurnOff();
                return QueueResult.Unavailable;
            }

            return connection.FullState == ConnectionState.Open ? QueueResult.Queued : QueueResult.Destroy;
        }
        catch (MissingMemberException)
        {
            s_probe.TurnOff();
            return QueueResult.Unavailable;
        }
    }

    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static bool MembersBind()
    {
        try
        {
            using var unopened = new NpgsqlConnection();
            _ = GetConnector(unopened);
        }
        catch (MissingMemberException)
        {
            return false;
        }

        // Called on null: a member that binds throws NullReferenceException when it runs; one that does not bind
        // throws MissingMemberException before.
        return Binds(static () => SendResetOnClose(null!))
            && Binds(static () => GenerateResetMessage(null!))
            && Binds(static () => Observe(Reset(null!, async: true)))
            && Binds(static () => GetInTransaction(null!))
            && Binds(static () => GetPendingPrependedResponses(null!));
    }

    private static bool Binds(Action call)
    {
        try
        {
            call();
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

    private static bool Binds<TResult>(Func<TResult> call) => Binds(() => { _ = call(); });

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Connector")]
    private static extern NpgsqlConnector? GetConnector(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_sendResetOnClose")]
    private static extern ref bool SendResetOnClose(NpgsqlConnector connector);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "GenerateResetMessage")]
    private static extern void GenerateResetMessage(NpgsqlConnector connector);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "Reset")]
    private static extern Task Reset(NpgsqlConnector connector, bool async);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_InTransaction")]
    private static extern bool GetInTransaction(NpgsqlConnector connector);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_PendingPrependedResponses")]
    private static extern int GetPendingPrependedResponses(NpgsqlConnector connector);
}
#pragma warning restore NPG9001

/// <summary>The outcome of <see cref="NpgsqlPrependedReset.TryQueue"/>.</summary>
internal enum QueueResult
{
    /// <summary>The reset is queued in front of the next command; the connection can be reused.</summary>
    Queued,

    /// <summary>A transaction is open: roll it back with a command, then queue again.</summary>
    RollbackFirst,

    /// <summary>The connection is not in a reusable state: destroy it.</summary>
    Destroy,

    /// <summary>The fast path is not available: reset with a round trip instead.</summary>
    Unavailable,
}
