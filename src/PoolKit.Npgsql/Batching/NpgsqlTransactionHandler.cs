using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;
using PoolKit.Npgsql.Internal;

namespace PoolKit.Npgsql;

/// <summary>
/// The transaction steps of an <see cref="NpgsqlConnection"/> for <see cref="ParallelBatchRunner{TResource, TTransaction}"/>,
/// with errors classified by <see cref="NpgsqlErrorClassifier"/>.
/// </summary>
/// <remarks>
/// <para>Phases map as follows: <see cref="BatchPhase.Acquire"/> and <see cref="BatchPhase.Begin"/> are
/// <see cref="NpgsqlOperationPhase.BeforeCommand"/>, <see cref="BatchPhase.Execute"/> is
/// <see cref="NpgsqlOperationPhase.InTransaction"/> and <see cref="BatchPhase.Commit"/> is
/// <see cref="NpgsqlOperationPhase.Commit"/>. <see cref="NpgsqlErrorClass.Transient"/> becomes
/// <see cref="BatchErrorKind.Transient"/>, <see cref="NpgsqlErrorClass.OutcomeUnknown"/> becomes
/// <see cref="BatchErrorKind.OutcomeUnknown"/>, and everything else <see cref="BatchErrorKind.Permanent"/>.</para>
/// <para>Npgsql sends <c>BEGIN</c> together with the unit's first command, so a connection that broke while idle in
/// the pool fails in <see cref="BatchPhase.Execute"/>, where it is transient: nothing was committed.</para>
/// <para>The built-in modes (per-item SQL) send a unit in one round trip: <c>BEGIN</c>, the record of the transaction's
/// id, the unit's statements and <c>COMMIT</c> (<see cref="IsCommitted"/> is then true and <see cref="CommitAsync"/>
/// only releases the transaction). A statement's error makes the server skip the rest, <c>COMMIT</c> included; the
/// runner rolls the unit back as for any error of its operation. A <c>COMMIT</c> that fails ends the transaction
/// rolled back on the server, and <see cref="RollbackAsync"/> then sends nothing.</para>
/// <para>Unknown commits are settled, not just reported: the <c>COMMIT</c> is sent in one round trip with a statement
/// recording the transaction's id (<c>pg_current_xact_id()</c>, which assigns one if the transaction has none, so a
/// unit whose only effect is a <c>NOTIFY</c> can be settled too), and when the connection is lost during
/// the <c>COMMIT</c>, the handler asks the server on fresh connections (for up to <see cref="CommitOutcomeTimeout"/>;
/// after a failover, the new primary that the connection string leads to) with <c>pg_xact_status</c>. A commit the
/// server reports committed completes normally; one it reports rolled back fails with an error classified
/// <see cref="BatchErrorKind.Transient"/> (nothing of it was committed, so the runner may run it again); only when the
/// server cannot tell (the id is past its horizon, or the answering server is a promoted standby that never received
/// the transaction) does the error stay <see cref="BatchErrorKind.OutcomeUnknown"/>. A session the server ended (a
/// FATAL error: terminated, shut down) before the record arrived is transient: the server sends the record before it
/// reads the <c>COMMIT</c>, and its FATAL message follows on the same stream, so the <c>COMMIT</c> never ran. A
/// connection lost otherwise before the record arrived (a client timeout, a proxy, the network) leaves the unit
/// unknown: the server may still hold it and run it. Needs PostgreSQL 13 or later;
/// against older servers the commit is a plain <c>COMMIT</c>.</para>
/// <para>The handler is stateless and thread-safe; one instance serves any number of runners.</para>
/// </remarks>
public sealed class NpgsqlTransactionHandler : ITransactionHandler<NpgsqlConnection, NpgsqlTransaction>
{
    /// <summary>
    /// The transactions a built-in mode committed in its unit's own round trip, until <see cref="CommitAsync"/> releases
    /// them. Npgsql reuses a connection's transaction object, so every entry is removed by that call; the table is
    /// thread-safe, and a connection is leased by one unit at a time.
    /// </summary>
    private static readonly ConditionalWeakTable<NpgsqlTransaction, object> s_committedInUnit = new();

    private static readonly object s_committedMark = new();

    /// <summary>Initializes a new instance.</summary>
    /// <param name="isolationLevel">
    /// The isolation level of every unit's transaction. Default <see cref="IsolationLevel.Unspecified"/>: a plain
    /// <c>BEGIN</c>, so the server's <c>default_transaction_isolation</c> (normally READ COMMITTED) applies.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="isolationLevel"/> is not a defined value, or is <see cref="IsolationLevel.Chaos"/> (PostgreSQL has no such level).</exception>
    public NpgsqlTransactionHandler(IsolationLevel isolationLevel = IsolationLevel.Unspecified)
        : this(isolationLevel, DefaultCommitOutcomeTimeout)
    {
    }

    /// <summary>Initializes a new instance that settles unknown commits for up to <paramref name="commitOutcomeTimeout"/>.</summary>
    /// <param name="isolationLevel">The isolation level of every unit's transaction (see the other constructor).</param>
    /// <param name="commitOutcomeTimeout">How long to keep asking the server how a commit whose connection was lost ended
    /// (it may be restarting, or a standby being promoted); <see cref="TimeSpan.Zero"/> turns settling off, so a
    /// commit interrupted by a lost connection is reported <see cref="BatchErrorKind.OutcomeUnknown"/> at once. With
    /// settling off, the built-in modes send no record (one statement and one Sync fewer per unit, measurably faster
    /// for units of one item), and a connection lost at any point after a unit was sent leaves it unknown.</param>
    /// <exception cref="ArgumentException"><paramref name="isolationLevel"/> is not a defined value, or is <see cref="IsolationLevel.Chaos"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="commitOutcomeTimeout"/> is negative or longer than 10 minutes.</exception>
    public NpgsqlTransactionHandler(IsolationLevel isolationLevel, TimeSpan commitOutcomeTimeout)
    {
        if (!Enum.IsDefined(isolationLevel) || isolationLevel == IsolationLevel.Chaos)
        {
            throw new ArgumentException($"IsolationLevel = {isolationLevel}: must be Unspecified, ReadUncommitted, ReadCommitted, RepeatableRead, Serializable or Snapshot.", nameof(isolationLevel));
        }

        if (commitOutcomeTimeout < TimeSpan.Zero || commitOutcomeTimeout > TimeSpan.FromMinutes(10))
        {
            throw new ArgumentOutOfRangeException(nameof(commitOutcomeTimeout), commitOutcomeTimeout, "CommitOutcomeTimeout must be between 0 (settling off) and 10 minutes.");
        }

        IsolationLevel = isolationLevel;
        CommitOutcomeTimeout = commitOutcomeTimeout;
    }

    /// <summary>The default of <see cref="CommitOutcomeTimeout"/>: 15 seconds.</summary>
    public static readonly TimeSpan DefaultCommitOutcomeTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Gets a handler that begins transactions at the server's default isolation level.</summary>
    public static NpgsqlTransactionHandler Default { get; } = new();

    /// <summary>Gets the isolation level of every unit's transaction.</summary>
    /// <value>Default: <see cref="IsolationLevel.Unspecified"/> (the server's default).</value>
    public IsolationLevel IsolationLevel { get; }

    /// <summary>Gets how long the handler keeps asking the server how a commit whose connection was lost ended.</summary>
    /// <value>Default: <see cref="DefaultCommitOutcomeTimeout"/> (15 seconds); <see cref="TimeSpan.Zero"/> when settling is off.</value>
    public TimeSpan CommitOutcomeTimeout { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="resource"/> is null.</exception>
    /// <exception cref="InvalidOperationException">A transaction is already open on the connection.</exception>
    public ValueTask<NpgsqlTransaction> BeginAsync(NpgsqlConnection resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.BeginTransactionAsync(IsolationLevel, cancellationToken);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="transaction"/> is null.</exception>
    /// <exception cref="NpgsqlException">The commit failed; <see cref="Classify"/> says whether it may have happened.</exception>
    /// <remarks>When the connection is lost during the <c>COMMIT</c>, the outcome is settled first (see the class remarks):
    /// this method then returns normally if the server reports the transaction committed, and throws an error
    /// <see cref="Classify"/> reports <see cref="BatchErrorKind.Transient"/> if it reports it rolled back.</remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask CommitAsync(NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        if (s_committedInUnit.Remove(transaction))
        {
            // A built-in mode sent the COMMIT with the unit's statements (RunUnitAsync): only the release is left.
            await DisposeQuietlyAsync(transaction).ConfigureAwait(false);
            return;
        }

        if (CommitOutcomeTimeout > TimeSpan.Zero && transaction.Connection is { } connection && NpgsqlCommitSettler.IsSupported(connection))
        {
            await CommitSettlingAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The commit's own error decides the classification: never let a failing disposal replace it.
            await DisposeQuietlyAsync(transaction).ConfigureAwait(false);
            throw;
        }

        await transaction.DisposeAsync().ConfigureAwait(false);
    }

    private async Task CommitSettlingAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        StrongBox<CommitRecord?> record = new();
        try
        {
            await NpgsqlCommitSettler.CommitRecordingAsync(connection, transaction, record, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex, BatchPhase.Commit) == BatchErrorKind.OutcomeUnknown)
        {
            await DisposeQuietlyAsync(transaction).ConfigureAwait(false);
            if (record.Value is not { } recorded)
            {
                if (EndedByServer(ex))
                {
                    throw NeverReachedCommit(ex);
                }

                throw; // Lost without the server saying so (a timeout, the network): nothing is proven.
            }

            switch (await NpgsqlCommitSettler.SettleAsync(connection, recorded, CommitOutcomeTimeout).ConfigureAwait(false))
            {
                case CommitOutcome.Committed:
                    return;
                case CommitOutcome.RolledBack:
                    throw SettledRolledBack(ex);
                default:
                    throw;
            }
        }
        catch
        {
            await DisposeQuietlyAsync(transaction).ConfigureAwait(false);
            throw;
        }

        await transaction.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Whether a built-in mode's unit carries the record (settling is on).</summary>
    internal bool Records => CommitOutcomeTimeout > TimeSpan.Zero;

    /// <inheritdoc />
    /// <remarks>True after a built-in mode's operation committed the unit in its own round trip, until <see cref="CommitAsync"/> released it.</remarks>
    public bool IsCommitted(NpgsqlTransaction transaction) => s_committedInUnit.TryGetValue(transaction, out _);

    /// <summary>
    /// Runs a built-in mode's unit in one round trip: the pending <c>BEGIN</c>, the record of the transaction's id, the
    /// statements of <paramref name="unit"/>'s batch and <c>COMMIT</c> (see <see cref="NpgsqlCommitSettler.RunUnitAsync"/>).
    /// Returns when the unit committed — also when the connection was lost and the server reported afterwards that it
    /// committed — and <see cref="IsCommitted"/> is then true. Otherwise throws: a statement's or the COMMIT's own error
    /// (the runner rolls back what is left, and classifies it as an error of the operation), a lost connection before
    /// the record arrived (the COMMIT never ran: transient), <see cref="CommitRolledBackException"/> (settled rolled back:
    /// transient) or <see cref="CommitOutcomeUnknownException"/> (the server cannot tell: unknown).
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask RunUnitAsync(NpgsqlUnitBatch unit, NpgsqlTransaction transaction, bool recordInFirstStatement = false)
    {
        NpgsqlConnection connection = transaction.Connection ?? throw new InvalidOperationException("The unit's transaction has no connection; this is a bug in PoolKit.Npgsql.");
        StrongBox<RecordedValues?>? record = Records ? new() : null;
        NpgsqlCommitSettler.ComposeUnit(unit, record is null ? UnitRecord.None : recordInFirstStatement ? UnitRecord.InFirstStatement : UnitRecord.Separate);
        NpgsqlBatch batch = unit.Batch;

        // PERF: the unit's statements repeat (the record, the run's statement, COMMIT): prepared once per connection,
        // the server skips parsing and planning them on every unit; Npgsql finds them already prepared (no round trip)
        // after the first unit on a connection. A failure here is before the COMMIT was sent: an error of the operation.
        await batch.PrepareAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            await NpgsqlCommitSettler.RunUnitAsync(batch, record).ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex, BatchPhase.Commit) == BatchErrorKind.OutcomeUnknown)
        {
            if (record is null)
            {
                // Settling is off, so nothing was recorded: the COMMIT went with the statements and may have run.
                throw new CommitOutcomeUnknownException(
                    "The connection was lost after the unit's statements and COMMIT were sent, and settling is off (CommitOutcomeTimeout = 0): whether it committed is unknown.",
                    ex);
            }

            if (record.Value?.ToCommitRecord() is not { } recorded)
            {
                if (EndedByServer(ex))
                {
                    throw NeverReachedCommit(ex);
                }

                // Lost without the server saying so (a client timeout, a proxy or the network): the server may still
                // hold the whole unit, COMMIT included, and run it; nothing is proven.
                throw new CommitOutcomeUnknownException(
                    "The connection was lost after the unit's statements and COMMIT were sent, before the transaction's record arrived, and not by the server ending the session: whether it committed is unknown.",
                    ex);
            }

            switch (await NpgsqlCommitSettler.SettleAsync(connection, recorded, CommitOutcomeTimeout).ConfigureAwait(false))
            {
                case CommitOutcome.Committed:
                    break;
                case CommitOutcome.RolledBack:
                    throw SettledRolledBack(ex);
                default:
                    throw new CommitOutcomeUnknownException(
                        $"The connection was lost after the unit's COMMIT was sent, and the server could not tell whether it committed ({recorded}).",
                        ex);
            }
        }

        s_committedInUnit.AddOrUpdate(transaction, s_committedMark);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="transaction"/> is null.</exception>
    /// <exception cref="NpgsqlException">The rollback failed (the connection is broken).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before the rollback finished; the connection was closed to end it.</exception>
    public async ValueTask RollbackAsync(NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        NpgsqlConnection? connection = transaction.Connection;
        if (connection is not null && NpgsqlTransactionState.TryGetInTransaction(connection) == false)
        {
            // The server has no transaction open any more: a COMMIT sent with the unit's statements failed, which ended
            // it rolled back. Nothing to send; the connection is clean.
            await DisposeQuietlyAsync(transaction).ConfigureAwait(false);
            return;
        }

        // The token is not handed to Npgsql: canceling its rollback throws from a timer callback inside Npgsql
        // (NullReferenceException in PerformUserCancellationUnsynchronized, seen on 10.0.3), which ends the process.
        // Instead the rollback is abandoned by closing the connection under it, which fails it at once and makes the
        // server end the transaction with the session.
        Task rollback = transaction.RollbackAsync(CancellationToken.None);
        try
        {
            await rollback.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !rollback.IsCompleted)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            await rollback.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await DisposeQuietlyAsync(transaction).ConfigureAwait(false);
            throw;
        }
        catch
        {
            await DisposeQuietlyAsync(transaction).ConfigureAwait(false);
            throw;
        }

        await transaction.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="phase"/> is not a defined value.</exception>
    public BatchErrorKind Classify(Exception exception, BatchPhase phase)
    {
        ArgumentNullException.ThrowIfNull(exception);
        switch (exception)
        {
            case CommitRolledBackException:
                return BatchErrorKind.Transient;
            case CommitOutcomeUnknownException:
                return BatchErrorKind.OutcomeUnknown;
            case NeverReachedCommitException:
                return BatchErrorKind.Transient;
            default:
                break;
        }

        NpgsqlOperationPhase npgsqlPhase = phase switch
        {
            BatchPhase.Acquire or BatchPhase.Begin => NpgsqlOperationPhase.BeforeCommand,
            BatchPhase.Execute => NpgsqlOperationPhase.InTransaction,
            BatchPhase.Commit => NpgsqlOperationPhase.Commit,
            _ => throw new ArgumentOutOfRangeException(nameof(phase), phase, "Unknown batch phase."),
        };
        return NpgsqlErrorClassifier.Classify(exception, npgsqlPhase) switch
        {
            NpgsqlErrorClass.Transient => BatchErrorKind.Transient,
            NpgsqlErrorClass.OutcomeUnknown => BatchErrorKind.OutcomeUnknown,
            _ => BatchErrorKind.Permanent,
        };
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    public bool IsConnectionBroken(Exception exception) =>
        exception is CommitRolledBackException or CommitOutcomeUnknownException or NeverReachedCommitException || NpgsqlErrorClassifier.IsConnectionBroken(exception);

    private static CommitRolledBackException SettledRolledBack(Exception lost) => new(
        "The connection was lost during COMMIT, and the server reported afterwards that the transaction did not commit (pg_xact_status): nothing of it was committed, so it is safe to run again.",
        lost);

    /// <summary>
    /// Whether the server itself ended the session (a FATAL or PANIC error: terminated, shutting down, crashed): its
    /// message comes in order on the same stream as the record, so a record not received before it was never sent.
    /// A connection lost otherwise (a client timeout, a proxy, the network) proves nothing: the server may still hold
    /// the unit and run it.
    /// </summary>
    private static bool EndedByServer(Exception exception) => exception is PostgresException { InvariantSeverity: "FATAL" or "PANIC" };

    private static NeverReachedCommitException NeverReachedCommit(Exception lost) => new(
        "The server ended the session before the transaction's record arrived, which it sends before it reads the COMMIT: the COMMIT never ran, so nothing was committed and it is safe to run again.",
        lost);

    private static async ValueTask DisposeQuietlyAsync(NpgsqlTransaction transaction)
    {
        try
        {
            await transaction.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Best effort after a failure that is being reported already.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
