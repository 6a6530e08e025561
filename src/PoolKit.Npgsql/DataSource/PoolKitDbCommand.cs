using System.ComponentModel;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// A command of a <see cref="PoolKitDbConnection"/>: an <see cref="NpgsqlCommand"/> that binds to the leased
/// connection when it runs, so it can be created before the connection is opened (as Dapper does).
/// </summary>
/// <remarks>
/// <para>Parameters are Npgsql's (<see cref="NpgsqlParameter"/>); readers are <see cref="NpgsqlDataReader"/>s.
/// <see cref="CommandBehavior.CloseConnection"/> closes the <see cref="PoolKitDbConnection"/> (returning its lease),
/// never the pooled connection itself.</para>
/// <para>Not thread-safe, like every <see cref="DbCommand"/>.</para>
/// </remarks>
[DesignerCategory("")]
public sealed class PoolKitDbCommand : DbCommand
{
    private readonly NpgsqlCommand _command = new();
    private DbConnection? _connection;
    private DbTransaction? _transaction;

    // NpgsqlCommand was read: its Connection is handed out, so it binds to the connection's lent object (left closed
    // by Close), never to the pooled one, and a kept Npgsql command cannot run on the next user's session.
    private bool _exposed;

    /// <summary>Gets the Npgsql command this command runs (for Npgsql-only settings such as <see cref="NpgsqlCommand.AllResultTypesAreUnknown"/>).</summary>
    /// <remarks>Valid while the PoolKit connection is open: once it closes, the Npgsql command's connection is a closed
    /// connection (running the Npgsql command directly then throws), as with <see cref="PoolKitDbConnection.NpgsqlConnection"/>.</remarks>
    public NpgsqlCommand NpgsqlCommand
    {
        get
        {
            if (!_exposed)
            {
                _exposed = true;

                // Bound by an earlier execution to the pooled object: rebind it to the lent one (or to none once closed).
                if (_command.Connection is not null && _connection is PoolKitDbConnection { HasOpenReader: false } pooled)
                {
                    _command.Connection = pooled.State == ConnectionState.Open ? pooled.NpgsqlConnection : null;
                }
            }

            return _command;
        }
    }

    /// <inheritdoc />
    [AllowNull]
    public override string CommandText
    {
        get => _command.CommandText;
        set => _command.CommandText = value;
    }

    /// <inheritdoc />
    public override int CommandTimeout
    {
        get => _command.CommandTimeout;
        set => _command.CommandTimeout = value;
    }

    /// <inheritdoc />
    public override CommandType CommandType
    {
        get => _command.CommandType;
        set => _command.CommandType = value;
    }

    /// <inheritdoc />
    public override bool DesignTimeVisible
    {
        get => _command.DesignTimeVisible;
        set => _command.DesignTimeVisible = value;
    }

    /// <inheritdoc />
    public override UpdateRowSource UpdatedRowSource
    {
        get => _command.UpdatedRowSource;
        set => _command.UpdatedRowSource = value;
    }

    /// <summary>Gets the command's parameters (Npgsql's collection).</summary>
    public new NpgsqlParameterCollection Parameters => _command.Parameters;

    /// <inheritdoc />
    protected override DbConnection? DbConnection
    {
        get => _connection;
        set => _connection = value;
    }

    /// <inheritdoc />
    protected override DbParameterCollection DbParameterCollection => _command.Parameters;

    /// <inheritdoc />
    /// <remarks>Accepts a <see cref="PoolKitDbTransaction"/>, or the <see cref="NpgsqlTransaction"/> of the leased connection.</remarks>
    protected override DbTransaction? DbTransaction
    {
        get => _transaction;
        set => _transaction = value;
    }

    /// <inheritdoc />
    public override void Cancel() => _command.Cancel();

    /// <inheritdoc />
    public override int ExecuteNonQuery() => Bind().ExecuteNonQuery();

    /// <inheritdoc />
    public override Task<int> ExecuteNonQueryAsync(CancellationToken cancellationToken) => Bind().ExecuteNonQueryAsync(cancellationToken);

    /// <inheritdoc />
    public override object? ExecuteScalar() => Bind().ExecuteScalar();

    /// <inheritdoc />
    public override Task<object?> ExecuteScalarAsync(CancellationToken cancellationToken) => Bind().ExecuteScalarAsync(cancellationToken);

    /// <inheritdoc />
    public override void Prepare() => Bind().Prepare();

    /// <inheritdoc />
    public override Task PrepareAsync(CancellationToken cancellationToken = default) => Bind().PrepareAsync(cancellationToken);

    /// <inheritdoc />
    protected override DbParameter CreateDbParameter() => _command.CreateParameter();

    /// <inheritdoc />
    protected override DbDataReader ExecuteDbDataReader(CommandBehavior behavior)
    {
        NpgsqlCommand command = Bind();
        NpgsqlDataReader reader = command.ExecuteReader(behavior & ~CommandBehavior.CloseConnection);
        return TrackReader(_connection, reader, behavior);
    }

    /// <inheritdoc />
    protected override async Task<DbDataReader> ExecuteDbDataReaderAsync(CommandBehavior behavior, CancellationToken cancellationToken)
    {
        NpgsqlCommand command = Bind();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(behavior & ~CommandBehavior.CloseConnection, cancellationToken).ConfigureAwait(false);
        return TrackReader(_connection, reader, behavior);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _command.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>Binds the Npgsql command to the connection leased now (a connection may lease another one after reopening).</summary>
    private NpgsqlCommand Bind()
    {
        _command.Connection = BindConnection(_connection, _exposed);
        _command.Transaction = BindTransaction(_transaction);
        return _command;
    }

    /// <summary>The Npgsql connection a PoolKit command or batch runs on.</summary>
    /// <param name="connection">The command's connection.</param>
    /// <param name="exposed">Whether the Npgsql command or batch was handed out (then it binds to the lent connection object).</param>
    internal static NpgsqlConnection BindConnection(DbConnection? connection, bool exposed) => connection switch
    {
        PoolKitDbConnection pooled => exposed ? pooled.NpgsqlConnection : pooled.Inner,
        NpgsqlConnection npgsql => npgsql,
        null => throw new InvalidOperationException("The command has no connection."),
        _ => throw new InvalidOperationException($"A PoolKit command cannot run on a {connection.GetType().Name}."),
    };

    /// <summary>The Npgsql transaction a PoolKit command or batch runs in.</summary>
    internal static NpgsqlTransaction? BindTransaction(DbTransaction? transaction) => transaction switch
    {
        null => null,
        PoolKitDbTransaction pooled => pooled.Inner,
        NpgsqlTransaction npgsql => npgsql,
        _ => throw new InvalidOperationException($"A PoolKit command cannot run in a {transaction.GetType().Name}."),
    };

    /// <summary>
    /// Remembers the reader on the PoolKit connection (whose Close closes it first, as Npgsql's does) and honors
    /// <see cref="CommandBehavior.CloseConnection"/> by closing the PoolKit connection, never the pooled one.
    /// </summary>
    internal static NpgsqlDataReader TrackReader(DbConnection? connection, NpgsqlDataReader reader, CommandBehavior behavior)
    {
        if (connection is PoolKitDbConnection pooled)
        {
            pooled.TrackReader(reader);
            if ((behavior & CommandBehavior.CloseConnection) != 0)
            {
                reader.ReaderClosed += (_, _) => pooled.Close();
            }
        }

        return reader;
    }
}
