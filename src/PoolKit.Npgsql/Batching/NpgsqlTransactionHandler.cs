using System.Data;
using Npgsql;

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
/// <para>The handler is stateless and thread-safe; one instance serves any number of runners.</para>
/// </remarks>
public sealed class NpgsqlTransactionHandler : ITransactionHandler<NpgsqlConnection, NpgsqlTransaction>
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="isolationLevel">
    /// The isolation level of every unit's transaction. Default <see cref="IsolationLevel.Unspecified"/>: a plain
    /// <c>BEGIN</c>, so the server's <c>default_transaction_isolation</c> (normally READ COMMITTED) applies.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="isolationLevel"/> is not a defined value, or is <see cref="IsolationLevel.Chaos"/> (PostgreSQL has no such level).</exception>
    public NpgsqlTransactionHandler(IsolationLevel isolationLevel = IsolationLevel.Unspecified)
    {
        if (!Enum.IsDefined(isolationLevel) || isolationLevel == IsolationLevel.Chaos)
        {
            throw new ArgumentException($"IsolationLevel = {isolationLevel}: must be Unspecified, ReadUncommitted, ReadCommitted, RepeatableRead, Serializable or Snapshot.", nameof(isolationLevel));
        }

        IsolationLevel = isolationLevel;
    }

    /// <summary>Gets a handler that begins transactions at the server's default isolation level.</summary>
    public static NpgsqlTransactionHandler Default { get; } = new();

    /// <summary>Gets the isolation level of every unit's transaction.</summary>
    /// <value>Default: <see cref="IsolationLevel.Unspecified"/> (the server's default).</value>
    public IsolationLevel IsolationLevel { get; }

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
    public async ValueTask CommitAsync(NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
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

    /// <inheritdoc />
    /// <exception cref="ArgumentNullException"><paramref name="transaction"/> is null.</exception>
    /// <exception cref="NpgsqlException">The rollback failed (the connection is broken).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled before the rollback finished; the connection was closed to end it.</exception>
    public async ValueTask RollbackAsync(NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        NpgsqlConnection? connection = transaction.Connection;

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
    public bool IsConnectionBroken(Exception exception) => NpgsqlErrorClassifier.IsConnectionBroken(exception);

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
