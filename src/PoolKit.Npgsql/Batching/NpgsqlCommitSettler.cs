using System.Runtime.CompilerServices;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// Commits a transaction while recording its id, and when the connection is lost during the <c>COMMIT</c>, asks the
/// server on a fresh connection whether that transaction committed (<c>pg_xact_status</c>).
/// </summary>
/// <remarks>
/// <para>The record — <c>pg_current_xact_id_if_assigned()</c>, the WAL insert position and the WAL timeline — is
/// read by a statement sent in the same round trip as the <c>COMMIT</c> (one <see cref="NpgsqlBatch"/> with error
/// barriers), so it costs no extra round trip; it reaches the client before the <c>COMMIT</c> starts.</para>
/// <para>The answer is trusted only where the server asked has the history the transaction was written in: the same
/// timeline (the same server, restarted), or a later timeline whose server replayed WAL past the transaction's writes
/// before it was promoted. Otherwise — a standby promoted before it received the transaction, whose transaction ids
/// may be handed out again — the outcome stays unknown, and so it does when the id is older than the server's
/// horizon (<c>pg_xact_status</c> returns null) or in its future (it never reached that server).</para>
/// <para>Stateless and thread-safe.</para>
/// </remarks>
internal static class NpgsqlCommitSettler
{
    private const string RecordSql =
        "SELECT pg_current_xact_id_if_assigned()::text, "
        + "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn()::text END, "
        + "CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8) END";

    private const string StatusSql =
        "SELECT pg_is_in_recovery(), pg_xact_status($1::xid8), "
        + "CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8) END, "
        + "coalesce(pg_last_wal_replay_lsn() >= $2::pg_lsn, false)";

    private static readonly TimeSpan s_retryDelay = TimeSpan.FromMilliseconds(100);

    /// <summary>Whether the server can record and answer (PostgreSQL 13 added <c>pg_current_xact_id</c> and <c>xid8</c>).</summary>
    public static bool IsSupported(NpgsqlConnection connection) => connection.PostgreSqlVersion.Major >= 13;

    /// <summary>
    /// Sends the record statement and <c>COMMIT</c> in one round trip. On success returns; on failure throws, with
    /// <paramref name="record"/> set when the record arrived before the failure.
    /// </summary>
    public static async Task CommitRecordingAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, StrongBox<CommitRecord?> record, CancellationToken cancellationToken)
    {
        // Error barriers put a Sync after each statement: the server flushes its output at a Sync, so the record reaches
        // the client while the COMMIT still runs (without it the record would wait in the server's buffer for the
        // COMMIT and be lost with it). Still one round trip: both are written before anything is read.
        NpgsqlBatch batch = new(connection, transaction)
        {
            EnableErrorBarriers = true,
            BatchCommands = { new NpgsqlBatchCommand(RecordSql), new NpgsqlBatchCommand("COMMIT") },
        };
        await using (batch.ConfigureAwait(false))
        {
            NpgsqlDataReader reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    record.Value = new CommitRecord(
                        reader.IsDBNull(0) ? null : reader.GetString(0),
                        reader.IsDBNull(1) ? null : reader.GetString(1),
                        reader.IsDBNull(2) ? null : reader.GetString(2));
                }

                // The COMMIT's own answer: its error, if any, is thrown here or when the reader closes.
                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                {
                }
            }
        }
    }

    /// <summary>Asks the server, on fresh connections, until <paramref name="timeout"/>, how the recorded transaction ended.</summary>
    public static async Task<CommitOutcome> SettleAsync(NpgsqlConnection lost, CommitRecord record, TimeSpan timeout)
    {
        if (record.TransactionId is null)
        {
            // No transaction id was assigned: the transaction wrote nothing, so nothing of it can be committed.
            return CommitOutcome.RolledBack;
        }

        using CancellationTokenSource deadline = new(timeout);
        while (!deadline.IsCancellationRequested)
        {
            try
            {
                CommitOutcome? outcome = await AskAsync(lost, record, deadline.Token).ConfigureAwait(false);
                if (outcome is { } known)
                {
                    return known;
                }
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidParameterValue)
            {
                // "transaction ID ... is in the future": this server never saw the transaction.
                return CommitOutcome.Unknown;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or IOException
                || (ex is OperationCanceledException && deadline.IsCancellationRequested))
            {
                // The server is not back yet (restarting, or a standby being promoted): ask again until the deadline.
            }

            try
            {
                await Task.Delay(s_retryDelay, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return CommitOutcome.Unknown;
    }

    /// <summary>One question; null when it must be asked again (the server is a standby, or the transaction still runs).</summary>
    private static async Task<CommitOutcome?> AskAsync(NpgsqlConnection lost, CommitRecord record, CancellationToken cancellationToken)
    {
        // Same data source, settings and credentials as the lost connection (Npgsql's clone of a data source connection).
        NpgsqlConnection fresh = (NpgsqlConnection)((ICloneable)lost).Clone();
        await using (fresh.ConfigureAwait(false))
        {
            await fresh.OpenAsync(cancellationToken).ConfigureAwait(false);
            NpgsqlCommand command = new(StatusSql, fresh)
            {
                Parameters =
                {
                    new NpgsqlParameter { Value = record.TransactionId },
                    new NpgsqlParameter { Value = record.InsertLsn ?? "0/0" },
                },
            };
            await using (command.ConfigureAwait(false))
            {
                NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    bool inRecovery = reader.GetBoolean(0);
                    string? status = reader.IsDBNull(1) ? null : reader.GetString(1);
                    string? timeline = reader.IsDBNull(2) ? null : reader.GetString(2);
                    bool replayedPast = reader.GetBoolean(3);
                    if (inRecovery || status == "in progress")
                    {
                        return null;
                    }

                    bool sameHistory = string.Equals(timeline, record.Timeline, StringComparison.Ordinal)
                        || (record.InsertLsn is not null && replayedPast);
                    return (status, sameHistory) switch
                    {
                        (_, false) => CommitOutcome.Unknown,
                        ("committed", true) => CommitOutcome.Committed,
                        ("aborted", true) => CommitOutcome.RolledBack,
                        _ => CommitOutcome.Unknown, // null: older than the server's horizon
                    };
                }
            }
        }
    }
}
