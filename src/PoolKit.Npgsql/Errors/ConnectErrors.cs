using System.Net.Sockets;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// Whether an error raised while <em>opening</em> a connection (nothing was sent yet) can go away by itself: the rule
/// shared by <see cref="PoolKitNpgsqlException"/> and <see cref="NpgsqlErrorClassifier"/>.
/// </summary>
/// <remarks>
/// A server that answered with an error is transient only for its overload and start-up states (53xxx, 57P03), which
/// <see cref="NpgsqlException.IsTransient"/> already says; a bad password or database is not. Npgsql's multi-host data
/// source adds two errors of its own that are not marked transient although a failover makes them go away: "No
/// suitable host was found." (every host is known to be down or of the wrong role; Npgsql rechecks after
/// <c>Host Recheck Seconds</c>) and "Unable to connect to a suitable host" wrapping one error per host, which is
/// transient when each of those is.
/// </remarks>
internal static class ConnectErrors
{
    /// <summary>The message of Npgsql's multi-host error with no host left to try (Npgsql 8 to 10).</summary>
    internal const string NoSuitableHost = "No suitable host was found.";

    /// <summary>Whether <paramref name="error"/> is one of Npgsql's multi-host errors (see the remarks of the type).</summary>
    /// <returns><see langword="true"/> for "No suitable host was found." and for an error wrapping one error per host.</returns>
    public static bool IsMultiHost(NpgsqlException error) =>
        error is not PostgresException
        && (error is { InnerException: null, Message: NoSuitableHost } || error.InnerException is AggregateException);

    /// <summary>Tells whether a retry of the open can succeed without an operator.</summary>
    /// <param name="error">The error of the open.</param>
    /// <returns><see langword="true"/> for network errors, timeouts, overload and start-up states and their multi-host forms.</returns>
    public static bool IsTransient(Exception error) => error switch
    {
        PostgresException server => server.IsTransient,
        ResourceCreationException { InnerException: { } cause } => IsTransient(cause),
        ResourceCreationException => true,
        NpgsqlException { InnerException: AggregateException perHost } => perHost.InnerExceptions.Count > 0 && perHost.InnerExceptions.All(IsTransient),
        NpgsqlException { InnerException: null, Message: NoSuitableHost } => true,
        NpgsqlException npgsql => npgsql.IsTransient || npgsql.InnerException is IOException or SocketException or TimeoutException,
        TimeoutException or OperationCanceledException or IOException or SocketException => true,
        _ => false,
    };
}
