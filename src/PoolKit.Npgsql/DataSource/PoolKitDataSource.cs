using System.Data.Common;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// The face of an <see cref="NpgsqlConnectionPool"/> for code that takes a <see cref="DbDataSource"/>: Dapper,
/// EF Core (<c>UseNpgsql(dataSource.CreateConnection())</c>), and any library written against ADO.NET's data source.
/// Its connections lease on open and go back to the pool on <c>Close</c>/<c>Dispose</c>, with the pool's bounds,
/// waiting, errors and metrics.
/// </summary>
/// <remarks>
/// <para>Write the code you would write with <see cref="NpgsqlDataSource"/>:
/// <c>await using var conn = await dataSource.OpenConnectionAsync(ct);</c>. Disposing that connection returns the
/// pooled connection; it never closes the physical one.</para>
/// <para>The connections are <see cref="PoolKitDbConnection"/>s, not <see cref="NpgsqlConnection"/>s: Npgsql 10
/// seals <see cref="NpgsqlConnection"/> and keeps the members a data source must implement
/// (<see cref="NpgsqlDataSource"/>'s connector management) internal, so no other pool can hand out a real one that
/// returns to it on dispose. Commands and transactions run as Npgsql's own (<see cref="PoolKitDbCommand.NpgsqlCommand"/>,
/// <see cref="PoolKitDbTransaction.NpgsqlTransaction"/>), and <see cref="PoolKitDbConnection.NpgsqlConnection"/> gives the pooled
/// connection itself for Npgsql-only APIs (binary COPY, notifications, type reloading) while the connection is open.</para>
/// <para>Errors from opening are <see cref="NpgsqlException"/>s: the server's or the network's error as Npgsql raised
/// it, or a <see cref="PoolKitNpgsqlException"/> when the pool was exhausted or could not create a connection.</para>
/// <para>Thread safety: the data source is safe to share; each connection is used by one caller at a time, as with
/// any <see cref="DbConnection"/>.</para>
/// </remarks>
public sealed class PoolKitDataSource : DbDataSource
{
    private readonly bool _ownsPool;

    /// <summary>Creates the data source face of a pool.</summary>
    /// <param name="pool">The pool connections come from.</param>
    /// <param name="ownsPool">Whether disposing the data source disposes the pool. Default <see langword="false"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="pool"/> is null.</exception>
    public PoolKitDataSource(NpgsqlConnectionPool pool, bool ownsPool = false)
    {
        ArgumentNullException.ThrowIfNull(pool);
        Pool = pool;
        _ownsPool = ownsPool;
    }

    /// <summary>Gets the pool the connections come from (for leases, statistics and clearing).</summary>
    public NpgsqlConnectionPool Pool { get; }

    /// <summary>Gets the connection string without its password.</summary>
    public override string ConnectionString => Pool.ConnectionStringWithoutPassword;

    /// <summary>Creates a data source that owns a new pool, from a connection string.</summary>
    /// <param name="connectionString">The Npgsql connection string (see <see cref="NpgsqlConnectionPoolOptions"/> for the pooling keywords).</param>
    /// <param name="options">The pool options. Default: the defaults.</param>
    /// <returns>The data source; dispose it to dispose the pool.</returns>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is null or blank.</exception>
    /// <exception cref="ConnectionPoolOptionsException">The options or the connection string's pooling keywords are invalid.</exception>
    public static PoolKitDataSource Create(string connectionString, ConnectionPoolOptions? options = null) =>
        new(NpgsqlConnectionPool.Create(connectionString, options), ownsPool: true);

    /// <summary>
    /// Creates a data source that owns a new pool, with the data source configured on an
    /// <see cref="NpgsqlDataSourceBuilder"/>: type mappings (<c>MapEnum</c>, <c>MapComposite</c>), plugins, JSON
    /// options, a password provider, certificates and SSL callbacks, logging.
    /// </summary>
    /// <param name="connectionString">The Npgsql connection string (see <see cref="NpgsqlConnectionPoolOptions"/> for the pooling keywords).</param>
    /// <param name="configureDataSource">Configures the builder; PoolKit turns its pooling off and builds it.</param>
    /// <param name="options">The pool options. Default: the defaults.</param>
    /// <returns>The data source; dispose it to dispose the pool.</returns>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is null or blank.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="configureDataSource"/> is null.</exception>
    /// <exception cref="ConnectionPoolOptionsException">The options or the builder's pooling keywords are invalid.</exception>
    public static PoolKitDataSource Create(string connectionString, Action<NpgsqlDataSourceBuilder> configureDataSource, ConnectionPoolOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentNullException.ThrowIfNull(configureDataSource);
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        configureDataSource(builder);
        return new(new NpgsqlConnectionPool(builder, new NpgsqlConnectionPoolOptions { Pool = options ?? new ConnectionPoolOptions() }), ownsPool: true);
    }

    /// <summary>Creates a closed connection; opening it leases a pooled connection.</summary>
    /// <returns>The connection.</returns>
    public new PoolKitDbConnection CreateConnection() => new(Pool);

    /// <summary>Leases a pooled connection, blocking while the pool is exhausted. Prefer <see cref="OpenConnectionAsync"/>.</summary>
    /// <returns>The open connection; dispose it to return the pooled connection.</returns>
    /// <exception cref="NpgsqlException">No connection could be obtained (see the remarks of the type).</exception>
    public new PoolKitDbConnection OpenConnection()
    {
        PoolKitDbConnection connection = CreateConnection();
        connection.Open();
        return connection;
    }

    /// <summary>Leases a pooled connection.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The open connection; dispose it to return the pooled connection.</returns>
    /// <exception cref="NpgsqlException">No connection could be obtained (see the remarks of the type).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public new async ValueTask<PoolKitDbConnection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        PoolKitDbConnection connection = CreateConnection();
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }

    /// <summary>Describes the pool without secrets.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => Pool.ToString();

    /// <summary>Creates a batch that leases a pooled connection for each execution and returns it afterwards (after its reader is closed, for a reader).</summary>
    /// <returns>The batch.</returns>
    public new PoolKitDbBatch CreateBatch() => new(CreateConnection());

    /// <inheritdoc />
    protected override DbConnection CreateDbConnection() => CreateConnection();

    /// <inheritdoc />
    protected override DbBatch CreateDbBatch() => CreateBatch();

    /// <inheritdoc />
    protected override DbConnection OpenDbConnection() => OpenConnection();

    /// <inheritdoc />
    protected override async ValueTask<DbConnection> OpenDbConnectionAsync(CancellationToken cancellationToken = default) =>
        await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing && _ownsPool)
        {
            Pool.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        if (_ownsPool)
        {
            await Pool.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsyncCore().ConfigureAwait(false);
    }
}
