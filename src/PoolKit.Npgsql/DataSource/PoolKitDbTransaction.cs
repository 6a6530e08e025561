using System.Data;
using System.Data.Common;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// A transaction of a <see cref="PoolKitDbConnection"/>: Npgsql's <see cref="global::Npgsql.NpgsqlTransaction"/> on the
/// leased connection, whose <see cref="Connection"/> is the PoolKit connection (EF Core and other ADO.NET consumers
/// check that a transaction belongs to the connection they were given).
/// </summary>
/// <remarks>
/// <para>The transaction belongs to one open of its connection. Closing the connection rolls it back (if still open)
/// and detaches it, as Npgsql does: afterwards <see cref="Connection"/> is <see langword="null"/>, <c>Dispose</c> does
/// nothing, and every other member throws (<see cref="InvalidOperationException"/>, or
/// <see cref="ObjectDisposedException"/> once disposed), so a late call can never reach the transaction of whoever
/// leases the same server session next. (Npgsql reuses its transaction object per physical connection: a kept
/// <see cref="NpgsqlTransaction"/> reference is not detached; use this wrapper.)</para>
/// <para>Not thread-safe, like every <see cref="DbTransaction"/>.</para>
/// </remarks>
public sealed class PoolKitDbTransaction : DbTransaction
{
    private readonly PoolKitDbConnection _connection;
    private bool _detached;
    private bool _disposed;

    internal PoolKitDbTransaction(PoolKitDbConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        Inner = transaction;
    }

    /// <summary>Gets Npgsql's transaction (for Npgsql-only code given the leased <see cref="PoolKitDbConnection.NpgsqlConnection"/>).</summary>
    /// <remarks>
    /// Valid while the connection that began it stays open. Npgsql reuses its transaction object for the next
    /// transaction of the same server session (with its own pool too), so do not keep it past the connection's
    /// <c>Close</c>; its <see cref="NpgsqlTransaction.Connection"/> is, like <see cref="PoolKitDbConnection.NpgsqlConnection"/>,
    /// a connection object that the close leaves closed.
    /// </remarks>
    public NpgsqlTransaction NpgsqlTransaction
    {
        get
        {
            if (!_detached)
            {
                // Its Connection is a raw NpgsqlConnection: hand out the lent one, which Close leaves closed.
                _connection.ExposeRaw();
            }

            return Inner;
        }
    }

    /// <summary>Gets Npgsql's transaction without handing it out (for this library's own calls).</summary>
    internal NpgsqlTransaction Inner { get; }

    /// <summary>Gets the PoolKit connection the transaction belongs to, or <see langword="null"/> once that connection was closed.</summary>
    public new PoolKitDbConnection? Connection => _detached ? null : _connection;

    /// <inheritdoc />
    public override IsolationLevel IsolationLevel => Live.IsolationLevel;

    /// <inheritdoc />
    public override bool SupportsSavepoints => Inner.SupportsSavepoints;

    /// <inheritdoc />
    protected override DbConnection? DbConnection => Connection;

    private NpgsqlTransaction Live
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_detached)
            {
                throw new InvalidOperationException("This transaction has completed: its connection was closed, which rolled it back. It is no longer usable.");
            }

            return Inner;
        }
    }

    /// <inheritdoc />
    public override void Commit() => Live.Commit();

    /// <inheritdoc />
    public override Task CommitAsync(CancellationToken cancellationToken = default) => Live.CommitAsync(cancellationToken);

    /// <inheritdoc />
    public override void Rollback() => Live.Rollback();

    /// <inheritdoc />
    public override Task RollbackAsync(CancellationToken cancellationToken = default) => Live.RollbackAsync(cancellationToken);

    /// <inheritdoc />
    public override void Save(string savepointName) => Live.Save(savepointName);

    /// <inheritdoc />
    public override Task SaveAsync(string savepointName, CancellationToken cancellationToken = default) => Live.SaveAsync(savepointName, cancellationToken);

    /// <inheritdoc />
    public override void Rollback(string savepointName) => Live.Rollback(savepointName);

    /// <inheritdoc />
    public override Task RollbackAsync(string savepointName, CancellationToken cancellationToken = default) => Live.RollbackAsync(savepointName, cancellationToken);

    /// <inheritdoc />
    public override void Release(string savepointName) => Live.Release(savepointName);

    /// <inheritdoc />
    public override Task ReleaseAsync(string savepointName, CancellationToken cancellationToken = default) => Live.ReleaseAsync(savepointName, cancellationToken);

    /// <summary>Disposes Npgsql's transaction, rolling it back if it is still open; does nothing once its connection was closed.</summary>
    /// <returns>A task that completes when it is disposed.</returns>
    public override async ValueTask DisposeAsync()
    {
        if (!_detached && !_disposed)
        {
            _disposed = true;
            await Inner.DisposeAsync().ConfigureAwait(false);
        }

        _disposed = true;
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Called by the connection when it closes, after it rolled back the transaction if it was still open.</summary>
    internal void Detach() => _detached = true;

    /// <summary>Gets whether the transaction may still be open on the server (not disposed, not detached).</summary>
    internal bool IsLive => !_detached && !_disposed;

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_detached && !_disposed)
        {
            Inner.Dispose();
        }

        _disposed = true;
        base.Dispose(disposing);
    }
}
