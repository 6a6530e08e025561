using System.Data;
using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// Resets a returned connection according to an <see cref="NpgsqlResetMode"/>, with as few round trips as the
/// public API allows.
/// </summary>
/// <remarks>
/// <see cref="NpgsqlResetMode.Discard"/> uses Npgsql's own lazy reset (<see cref="NpgsqlPrependedReset"/>): the
/// reset is queued in front of the next command and costs no round trip of its own. When that path is unavailable
/// (the connection was not armed at open, or this Npgsql no longer supports it), it resets as
/// <see cref="NpgsqlResetMode.DiscardOnReturn"/> does: one round trip per return.
/// <see cref="NpgsqlResetMode.RollbackOnly"/> costs none unless a transaction is open (see
/// <see cref="NpgsqlTransactionState"/>).
/// </remarks>
internal static class NpgsqlSessionReset
{
    /// <summary>Resets everything and deallocates prepared statements: for connections on which Npgsql has prepared nothing.</summary>
    public const string DiscardAll = "DISCARD ALL";

    /// <summary>
    /// Resets everything but prepared statements: for connections on which Npgsql has prepared statements (explicit
    /// <c>Prepare()</c> or <c>Max Auto Prepare</c>), which it tracks and would otherwise find gone.
    /// </summary>
    public const string DiscardKeepingPrepared =
        "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD SEQUENCES; DISCARD TEMP";

    private const string Rollback = "ROLLBACK";

    /// <summary>Resets the connection.</summary>
    /// <returns><see langword="false"/> when the connection must be destroyed instead.</returns>
    /// <param name="connection">The returned connection.</param>
    /// <param name="mode">The reset mode.</param>
    /// <param name="prepended">Whether the connection was armed for <see cref="NpgsqlPrependedReset"/> at open.</param>
    /// <param name="cancellationToken">Cancels the reset's I/O.</param>
    public static ValueTask<bool> ResetAsync(NpgsqlConnection connection, NpgsqlResetMode mode, bool prepended, CancellationToken cancellationToken)
    {
        if (connection.FullState != ConnectionState.Open)
        {
            return new ValueTask<bool>(false);
        }

        if (mode == NpgsqlResetMode.None)
        {
            return new ValueTask<bool>(true);
        }

        if (mode == NpgsqlResetMode.Discard && prepended)
        {
            // PERF: the common return (no transaction open) queues the reset without I/O and completes synchronously.
            switch (NpgsqlPrependedReset.TryQueue(connection))
            {
                case QueueResult.Queued:
                    return new ValueTask<bool>(true);
                case QueueResult.Destroy:
                    return new ValueTask<bool>(false);
                case QueueResult.RollbackFirst:
                    return RollbackThenQueueAsync(connection, cancellationToken);
            }
        }

        bool? inTransaction = NpgsqlTransactionState.TryGetInTransaction(connection);
        if (mode == NpgsqlResetMode.RollbackOnly)
        {
            // PERF: the common return (no transaction) completes synchronously, without I/O.
            return inTransaction switch
            {
                false => new ValueTask<bool>(true),
                true => ExecuteAsync(connection, Rollback, cancellationToken),
                null => ProbeAndRollbackAsync(connection, cancellationToken),
            };
        }

        return DiscardAsync(connection, inTransaction, cancellationToken);
    }

    private static async ValueTask<bool> RollbackThenQueueAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (!await ExecuteAsync(connection, Rollback, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        return NpgsqlPrependedReset.TryQueue(connection) switch
        {
            QueueResult.Queued => true,
            QueueResult.Unavailable => await DiscardAsync(connection, inTransaction: false, cancellationToken).ConfigureAwait(false),
            _ => false,
        };
    }

    private static async ValueTask<bool> DiscardAsync(NpgsqlConnection connection, bool? inTransaction, CancellationToken cancellationToken)
    {
        // Chosen per connection, as Npgsql's own reset does: DISCARD ALL would deallocate the statements Npgsql has
        // prepared (explicitly or automatically) on it, and their next use would fail with 26000.
        string discardSql = NpgsqlLeaseLeftovers.HasPreparedStatements(connection) == false ? DiscardAll : DiscardKeepingPrepared;
        if (inTransaction == true)
        {
            await ExecuteAsync(connection, Rollback, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await ExecuteAsync(connection, discardSql, cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (inTransaction is null && ex.SqlState is PostgresErrorCodes.ActiveSqlTransaction or PostgresErrorCodes.InFailedSqlTransaction)
        {
            // Without the in-process status we learn about an open transaction from DISCARD's refusal.
            await ExecuteAsync(connection, Rollback, cancellationToken).ConfigureAwait(false);
            return await ExecuteAsync(connection, discardSql, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The public-API fallback: <c>BeginTransaction</c> throws when a transaction is open; otherwise it leaves a pending one to undo.</summary>
    private static async ValueTask<bool> ProbeAndRollbackAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        NpgsqlTransaction probe;
        try
        {
            probe = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            return await ExecuteAsync(connection, Rollback, cancellationToken).ConfigureAwait(false);
        }

        // Never canceled: canceling Npgsql's rollback throws from a timer callback inside Npgsql (seen on 10.0.3).
        await probe.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
        await probe.DisposeAsync().ConfigureAwait(false);
        return true;
    }

    private static async ValueTask<bool> ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        var command = new NpgsqlCommand(sql, connection);
        await using (command.ConfigureAwait(false))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        return connection.FullState == ConnectionState.Open;
    }
}
