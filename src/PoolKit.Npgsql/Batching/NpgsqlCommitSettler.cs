using System.Runtime.CompilerServices;
using Npgsql;
using PoolKit.Npgsql.Internal;

namespace PoolKit.Npgsql;

/// <summary>
/// Commits a transaction while recording its id, and when the connection is lost during the <c>COMMIT</c>, asks the
/// server on a fresh connection whether that transaction committed (<c>pg_xact_status</c>).
/// </summary>
/// <remarks>
/// <para>The record — <c>pg_current_xact_id()</c>, the WAL insert position and the WAL timeline — is read by a
/// statement sent in the same round trip as the <c>COMMIT</c>, followed by an error barrier (a Sync): the server
/// flushes its answer at that Sync, before it reads the <c>COMMIT</c>, so the record costs no extra round trip and
/// reaches the client before the <c>COMMIT</c> starts. <c>pg_current_xact_id()</c> assigns the id if the transaction has
/// none yet, so every recorded transaction can be settled — also one whose only effect is a <c>NOTIFY</c>, which would
/// otherwise be given its id inside the <c>COMMIT</c>. In the built-in modes (<see cref="RunUnitAsync"/>) the record is
/// the unit's first statement, right after <c>BEGIN</c> (for an insert-mode unit of one row, the <c>INSERT</c> itself
/// returns it), and the unit's statements and <c>COMMIT</c> follow in the same round trip, prepared.</para>
/// <para>A session the server ended before the record arrived proves the <c>COMMIT</c> never ran: the server writes
/// the record at the Sync that precedes the unit's statements and <c>COMMIT</c>, before it reads them, and its FATAL
/// message (terminated, shutting down) follows on the same stream, so a FATAL received without the record means the
/// record was never written. A connection lost otherwise (a client timeout, a proxy, the network) proves nothing: the
/// server may hold the whole unit in its input and still run it.</para>
/// <para>The answer is trusted only where the server asked has the history the transaction was written in: the same
/// timeline (the same server, restarted), or a later timeline whose server replayed WAL past the transaction's writes
/// before it was promoted. Otherwise — a standby promoted before it received the transaction, whose transaction ids
/// may be handed out again — the outcome stays unknown, and so it does when the id is older than the server's
/// horizon (<c>pg_xact_status</c> returns null) or in its future (it never reached that server).</para>
/// <para>Stateless and thread-safe.</para>
/// </remarks>
internal static class NpgsqlCommitSettler
{
    /// <summary>The record's columns: the transaction's id (assigned if it has none), the WAL insert position and the WAL timeline.</summary>
    /// <remarks>
    /// PERF: read as numbers (xid8, pg_lsn, the timeline's 8 hex digits as an integer), so a unit that commits allocates
    /// no strings for its record; the text forms are made only when a lost connection is settled.
    /// </remarks>
    public const string RecordColumns =
        "pg_current_xact_id(), "
        + "CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn() END, "
        + "CASE WHEN pg_is_in_recovery() THEN NULL ELSE ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::int END";

    /// <summary>The record as a statement of its own.</summary>
    public const string RecordSql = "SELECT " + RecordColumns;

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
                    record.Value = ReadRecord(reader).ToCommitRecord();
                }

                // The COMMIT's own answer: its error, if any, is thrown here or when the reader closes.
                while (await reader.NextResultAsync(cancellationToken).ConfigureAwait(false))
                {
                }
            }
        }
    }

    /// <summary>
    /// Completes a unit's batch: the record right after the (pending) <c>BEGIN</c>, with an error barrier, unless
    /// <paramref name="record"/> is <see cref="UnitRecord.None"/> (settling off), and <c>COMMIT</c> after the statements.
    /// With <see cref="UnitRecord.InFirstStatement"/>, the unit's first statement returns the record as its only row
    /// (<c>RETURNING</c> <see cref="RecordColumns"/>) and gets the error barrier instead: one statement fewer.
    /// </summary>
    public static void ComposeUnit(NpgsqlUnitBatch unit, UnitRecord record)
    {
        NpgsqlBatch batch = unit.Batch;
        switch (record)
        {
            case UnitRecord.Separate:
                batch.BatchCommands.Insert(0, unit.Record);
                break;
            case UnitRecord.InFirstStatement:
                batch.BatchCommands[0].AppendErrorBarrier = true;
                break;
            default:
                break;
        }

        batch.BatchCommands.Add(unit.Commit);
    }

    /// <summary>
    /// Runs a unit composed by <see cref="ComposeUnit"/> in one round trip: the record right after the (pending) <c>BEGIN</c>, with an error barrier, then the
    /// statements already in <paramref name="batch"/>, then <c>COMMIT</c>. Returns when the <c>COMMIT</c> succeeded;
    /// throws otherwise, with <paramref name="record"/> set when the record arrived before the failure. Without a
    /// <paramref name="record"/> box (settling off), no record is read: one statement and one Sync fewer.
    /// </summary>
    /// <remarks>
    /// Npgsql sends a batch's statements up to the next Sync as one pipeline: an error in a statement makes the server
    /// skip the rest, the <c>COMMIT</c> included, and leaves the transaction aborted (the caller rolls it back); an error
    /// in the <c>COMMIT</c> itself (a deferred constraint, a serialization failure) ends the transaction rolled back.
    /// Never canceled: once sent, the unit's <c>COMMIT</c> is allowed to finish, so its outcome is known.
    /// </remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask RunUnitAsync(NpgsqlBatch batch, StrongBox<RecordedValues?>? record)
    {
        NpgsqlDataReader reader = await batch.ExecuteReaderAsync(CancellationToken.None).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            if (record is not null && await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                record.Value = ReadRecord(reader);
            }

            // The statements' and the COMMIT's answers: the first error is thrown here or when the reader closes.
            while (await reader.NextResultAsync(CancellationToken.None).ConfigureAwait(false))
            {
            }
        }
    }

    /// <summary>Reads the record's row (<see cref="RecordColumns"/>) without allocating.</summary>
    private static RecordedValues ReadRecord(NpgsqlDataReader reader) => new(
        reader.IsDBNull(0) ? null : reader.GetFieldValue<ulong>(0),
        reader.IsDBNull(1) ? null : (ulong)reader.GetFieldValue<NpgsqlTypes.NpgsqlLogSequenceNumber>(1),
        reader.IsDBNull(2) ? null : reader.GetInt32(2));

    /// <summary>Asks the server, on fresh connections, until <paramref name="timeout"/>, how the recorded transaction ended.</summary>
    public static async Task<CommitOutcome> SettleAsync(NpgsqlConnection lost, CommitRecord record, TimeSpan timeout)
    {
        if (record.TransactionId is null)
        {
            // No id to ask about (the record is always read with pg_current_xact_id(), so this is not expected): a
            // transaction without an id can still get one inside its COMMIT (a NOTIFY does), so nothing is proven.
            return CommitOutcome.Unknown;
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
