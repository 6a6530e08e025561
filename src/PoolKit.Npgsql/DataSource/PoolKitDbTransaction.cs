using System.Data;
using System.Data.Common;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// A transaction of a <see cref="PoolKitDbConnection"/>: Npgsql's <see cref="global::Npgsql.NpgsqlTransaction"/> on the
/// leased connection, whose <see cref="Connection"/> is the PoolKit connection (EF Core and other ADO.NET consumers
/// check that a transaction belongs to the connection they were given).
/// </summary>
/// <remarks>Not thread-safe, like every <see cref="DbTransaction"/>.</remarks>
public sealed class PoolKitDbTransaction : DbTransaction
{
    private readonly PoolKitDbConnection _connection;

    internal PoolKitDbTransaction(PoolKitDbConnection connection, NpgsqlTransaction transaction)
    {
        _connection = connection;
        NpgsqlTransaction = transaction;
    }

    /// <summary>Gets Npgsql's transaction (for Npgsql-only code given the leased <see cref="PoolKitDbConnection.NpgsqlConnection"/>).</summary>
    public NpgsqlTransaction NpgsqlTransaction { get; }

    /// <summary>Gets the PoolKit connection the transaction belongs to.</summary>
    public new PoolKitDbConnection Connection => _connection;

    /// <inheritdoc />
    public override IsolationLevel IsolationLevel => NpgsqlTransaction.IsolationLevel;

    /// <inheritdoc />
    public override bool SupportsSavepoints => NpgsqlTransaction.SupportsSavepoints;

    /// <inheritdoc />
    protected override DbConnection DbConnection => _connection;

    /// <inheritdoc />
    public override void Commit() => NpgsqlTransaction.Commit();

    /// <inheritdoc />
    public override Task CommitAsync(CancellationToken cancellationToken = default) => NpgsqlTransaction.CommitAsync(cancellationToken);

    /// <inheritdoc />
    public override void Rollback() => NpgsqlTransaction.Rollback();

    /// <inheritdoc />
    public override Task RollbackAsync(CancellationToken cancellationToken = default) => NpgsqlTransaction.RollbackAsync(cancellationToken);

    /// <inheritdoc />
    public override void Save(string savepointName) => NpgsqlTransaction.Save(savepointName);

    /// <inheritdoc />
    public override Task SaveAsync(string savepointName, CancellationToken cancellationToken = default) => NpgsqlTransaction.SaveAsync(savepointName, cancellationToken);

    /// <inheritdoc />
    public override void Rollback(string savepointName) => NpgsqlTransaction.Rollback(savepointName);

    /// <inheritdoc />
    public override Task RollbackAsync(string savepointName, CancellationToken cancellationToken = default) => NpgsqlTransaction.RollbackAsync(savepointName, cancellationToken);

    /// <inheritdoc />
    public override void Release(string savepointName) => NpgsqlTransaction.Release(savepointName);

    /// <inheritdoc />
    public override Task ReleaseAsync(string savepointName, CancellationToken cancellationToken = default) => NpgsqlTransaction.ReleaseAsync(savepointName, cancellationToken);

    /// <summary>Disposes Npgsql's transaction, rolling it back if it is still open.</summary>
    /// <returns>A task that completes when it is disposed.</returns>
    public override async ValueTask DisposeAsync()
    {
        await NpgsqlTransaction.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            NpgsqlTransaction.Dispose();
        }

        base.Dispose(disposing);
    }
}
