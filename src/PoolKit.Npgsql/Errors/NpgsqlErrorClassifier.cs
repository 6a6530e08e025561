using System.Net.Sockets;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// Decides whether an error from a pooled Npgsql operation is worth retrying and whether the connection is broken.
/// </summary>
/// <remarks>
/// <para>Rules, in order:</para>
/// <list type="bullet">
/// <item><see cref="PoolKitNpgsqlException"/>: its <see cref="PoolKitNpgsqlException.IsTransient"/>.</item>
/// <item><see cref="PoolExhaustedException"/> and <see cref="OperationCanceledException"/>: not transient (the pool is
/// saturated or the caller gave up; retrying adds load).</item>
/// <item><see cref="ResourceCreationException"/>: the pool could not open a connection, so nothing was sent; transient
/// unless its inner error is a permanent one (bad password 28P01, unknown database 3D000, ...).</item>
/// <item>Server errors 40001 (serialization_failure) and 40P01 (deadlock_detected): transient in every phase — the
/// server rolled the transaction back.</item>
/// <item>Lost connections — server errors of class 08 (connection exception), 57P01/57P02/57P03 (shutdown), 53300
/// (too_many_connections), 53xxx (insufficient resources) and 58xxx (system error), and client-side I/O errors or
/// timeouts: transient in <see cref="NpgsqlOperationPhase.BeforeCommand"/> and
/// <see cref="NpgsqlOperationPhase.InTransaction"/>, <see cref="NpgsqlErrorClass.OutcomeUnknown"/> in
/// <see cref="NpgsqlOperationPhase.Commit"/>.</item>
/// <item>25006 (read_only_sql_transaction): transient in every phase, and the connection is broken — a write reached
/// a read-only server (a standby, or a primary that became one): nothing was written, and the connection must be
/// replaced so that the next one is opened to the server that now takes writes.</item>
/// <item>55P03 (lock_not_available): transient. Everything else: not transient.</item>
/// </list>
/// </remarks>
public static class NpgsqlErrorClassifier
{
    /// <summary>Classifies an error.</summary>
    /// <param name="exception">The error, as caught.</param>
    /// <param name="phase">Where in the unit of work it happened.</param>
    /// <returns>What the caller may do.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public static NpgsqlErrorClass Classify(Exception exception, NpgsqlOperationPhase phase)
    {
        ArgumentNullException.ThrowIfNull(exception);
        switch (exception)
        {
            case PoolKitNpgsqlException pooled:
                // Nothing was sent; the exception already knows whether a retry can succeed.
                return pooled.IsTransient ? NpgsqlErrorClass.Transient : NpgsqlErrorClass.NotTransient;
            case PoolExhaustedException:
            case OperationCanceledException:
                return NpgsqlErrorClass.NotTransient;
            case ResourceCreationException creation:
                // Nothing was sent: the connection never existed.
                // Only a server that answered and refused (bad password, unknown database) makes it permanent;
                // timeouts and network errors are what the pool's back-off and recovery are for.
                return creation.InnerException is PostgresException refused && !IsLostConnection(refused)
                    ? NpgsqlErrorClass.NotTransient
                    : NpgsqlErrorClass.Transient;
            case PostgresException pg when pg.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.ReadOnlySqlTransaction:
                return NpgsqlErrorClass.Transient;
            default:
                break;
        }

        // Nothing was sent yet: an open that failed for a reason that goes away by itself (multi-host forms included).
        if (phase == NpgsqlOperationPhase.BeforeCommand && exception is NpgsqlException and not PostgresException && ConnectErrors.IsTransient(exception))
        {
            return NpgsqlErrorClass.Transient;
        }

        if (IsLostConnection(exception))
        {
            return phase == NpgsqlOperationPhase.Commit ? NpgsqlErrorClass.OutcomeUnknown : NpgsqlErrorClass.Transient;
        }

        return NpgsqlErrorClass.NotTransient;
    }

    /// <summary>Tells whether an error is transient in the given phase (<see cref="Classify"/> returns <see cref="NpgsqlErrorClass.Transient"/>).</summary>
    /// <param name="exception">The error, as caught.</param>
    /// <param name="phase">Where in the unit of work it happened. Default <see cref="NpgsqlOperationPhase.InTransaction"/>.</param>
    /// <returns><see langword="true"/> if retrying the unit of work is safe and may succeed.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public static bool IsTransient(Exception exception, NpgsqlOperationPhase phase = NpgsqlOperationPhase.InTransaction) =>
        Classify(exception, phase) == NpgsqlErrorClass.Transient;

    /// <summary>
    /// Tells whether an error means the connection it happened on must not be used again: a fatal server error
    /// (severity FATAL or PANIC, class 08, 57P01–57P03), a write refused by a read-only server (25006: the connection
    /// leads to a standby, so it is replaced by one opened to the server that takes writes now), or a client-side I/O
    /// error or timeout.
    /// </summary>
    /// <param name="exception">The error, as caught.</param>
    /// <returns><see langword="true"/> if the connection is broken.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public static bool IsConnectionBroken(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            PostgresException pg => pg.InvariantSeverity is "FATAL" or "PANIC" || IsConnectionSqlState(pg.SqlState) || pg.SqlState == PostgresErrorCodes.ReadOnlySqlTransaction,
            NpgsqlException npgsql => npgsql.InnerException is IOException or SocketException or TimeoutException or ObjectDisposedException || npgsql.InnerException is null && npgsql.IsTransient,
            IOException or SocketException or TimeoutException => true,
            _ => false,
        };
    }

    private static bool IsLostConnection(Exception exception) => exception switch
    {
        PostgresException pg => IsConnectionSqlState(pg.SqlState) || pg.SqlState.StartsWith("53", StringComparison.Ordinal) || pg.SqlState.StartsWith("58", StringComparison.Ordinal),
        NpgsqlException npgsql => npgsql.InnerException is IOException or SocketException or TimeoutException || npgsql.IsTransient,
        IOException or SocketException or TimeoutException => true,
        _ => false,
    };

    private static bool IsConnectionSqlState(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal)
        || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow;
}
