using System.Data;
using System.Data.Common;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// A batch of a <see cref="PoolKitDbConnection"/>: an <see cref="NpgsqlBatch"/> that binds to the leased connection
/// when it runs, so it can be created before the connection is opened. Its commands are
/// <see cref="NpgsqlBatchCommand"/>s; all of them go to the server in one round trip.
/// </summary>
/// <remarks>
/// <para><see cref="CommandBehavior.CloseConnection"/> closes the <see cref="PoolKitDbConnection"/> (returning its
/// lease), never the pooled connection itself; a batch from <see cref="DbDataSource.CreateBatch"/> relies on it to
/// give its connection back.</para>
/// <para>Not thread-safe, like every <see cref="DbBatch"/>.</para>
/// </remarks>
public sealed class PoolKitDbBatch : DbBatch
{
    private readonly NpgsqlBatch _batch = new();

    // NpgsqlBatch was read: it binds to the connection's lent object (see PoolKitDbCommand).
    private bool _exposed;

    // Set for a batch of the data source (PoolKitDataSource.CreateBatch): a connection of its own, opened for each
    // execution and closed after it (after its reader, for ExecuteReader).
    private readonly PoolKitDbConnection? _owned;
    private DbConnection? _connection;
    private DbTransaction? _transaction;

    /// <summary>Initializes a batch without a connection; set <see cref="DbBatch.Connection"/> before running it.</summary>
    public PoolKitDbBatch()
    {
    }

    internal PoolKitDbBatch(PoolKitDbConnection owned)
    {
        _owned = owned;
        _connection = owned;
    }

    /// <summary>Gets the Npgsql batch this batch runs.</summary>
    /// <remarks>Valid while the PoolKit connection is open: once it closes, the Npgsql batch's connection is a closed
    /// connection (running the Npgsql batch directly then throws), as with <see cref="PoolKitDbConnection.NpgsqlConnection"/>.</remarks>
    public NpgsqlBatch NpgsqlBatch
    {
        get
        {
            if (!_exposed)
            {
                _exposed = true;

                // Bound by an earlier execution to the pooled object: rebind it to the lent one (or to none once closed).
                if (_batch.Connection is not null && _connection is PoolKitDbConnection { HasOpenReader: false } pooled)
                {
                    _batch.Connection = pooled.State == ConnectionState.Open ? pooled.NpgsqlConnection : null;
                }
            }

            return _batch;
        }
    }

    /// <summary>Gets the batch's commands (Npgsql's collection of <see cref="NpgsqlBatchCommand"/>s).</summary>
    public new NpgsqlBatchCommandCollection BatchCommands => _batch.BatchCommands;

    /// <inheritdoc />
    public override int Timeout
    {
        get => _batch.Timeout;
        set => _batch.Timeout = value;
    }

    /// <inheritdoc />
    protected override DbBatchCommandCollection DbBatchCommands => _batch.BatchCommands;

    /// <inheritdoc />
    /// <exception cref="NotSupportedException">On set, for a batch of the data source, which opens a connection of its own.</exception>
    protected override DbConnection? DbConnection
    {
        get => _owned is null ? _connection : null;
        set => _connection = _owned is null ? value : throw new NotSupportedException("A batch of the data source runs on a connection of its own; create the batch from a connection instead.");
    }

    /// <inheritdoc />
    /// <remarks>Accepts a <see cref="PoolKitDbTransaction"/>, or the <see cref="NpgsqlTransaction"/> of the leased connection.</remarks>
    protected override DbTransaction? DbTransaction
    {
        get => _transaction;
        set => _transaction = value;
    }

    /// <inheritdoc />
    public override void Cancel() => _batch.Cancel();

    /// <inheritdoc />
    public override int ExecuteNonQuery()
    {
        OpenOwned();
        try
        {
            return Bind().ExecuteNonQuery();
        }
        finally
        {
            _owned?.Close();
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken = default)
    {
        await OpenOwnedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await Bind().ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await CloseOwnedAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override object? ExecuteScalar()
    {
        OpenOwned();
        try
        {
            return Bind().ExecuteScalar();
        }
        finally
        {
            _owned?.Close();
        }
    }

    /// <inheritdoc />
    public override async Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken = default)
    {
        await OpenOwnedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await Bind().ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await CloseOwnedAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public override void Prepare()
    {
        OpenOwned();
        try
        {
            Bind().Prepare();
        }
        finally
        {
            _owned?.Close();
        }
    }

    /// <inheritdoc />
    public override async Task PrepareAsync(CancellationToken cancellationToken = default)
    {
        await OpenOwnedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await Bind().PrepareAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await CloseOwnedAsync().ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override DbBatchCommand CreateDbBatchCommand() => _batch.CreateBatchCommand();

    /// <inheritdoc />
    protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
    {
        OpenOwned();
        try
        {
            NpgsqlDataReader reader = Bind().ExecuteReader(behavior & ~CommandBehavior.CloseConnection);
            return PoolKitDbCommand.TrackReader(_connection, reader, _owned is null ? behavior : behavior | CommandBehavior.CloseConnection);
        }
        catch
        {
            _owned?.Close();
            throw;
        }
    }

    /// <inheritdoc />
    protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
    {
        await OpenOwnedAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            NpgsqlDataReader reader = await Bind().ExecuteReaderAsync(behavior & ~CommandBehavior.CloseConnection, cancellationToken).ConfigureAwait(false);
            return PoolKitDbCommand.TrackReader(_connection, reader, _owned is null ? behavior : behavior | CommandBehavior.CloseConnection);
        }
        catch
        {
            await CloseOwnedAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _batch.Dispose();
        _owned?.Dispose();
        base.Dispose();
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        await _batch.DisposeAsync().ConfigureAwait(false);
        if (_owned is not null)
        {
            await _owned.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void OpenOwned() => _owned?.Open();

    private Task OpenOwnedAsync(CancellationToken cancellationToken) => _owned?.OpenAsync(cancellationToken) ?? Task.CompletedTask;

    private Task CloseOwnedAsync() => _owned?.CloseAsync() ?? Task.CompletedTask;

    private NpgsqlBatch Bind()
    {
        _batch.Connection = PoolKitDbCommand.BindConnection(_connection, _exposed);
        _batch.Transaction = PoolKitDbCommand.BindTransaction(_transaction);
        return _batch;
    }
}
