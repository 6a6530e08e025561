using Npgsql;

namespace PoolKit.Testing;

/// <summary>
/// A database created by <see cref="PostgresTestServer.CreateDatabaseAsync(string?, CancellationToken)"/>: it knows
/// its name and its connection string, and disposing it drops it (terminating the connections to it).
/// </summary>
/// <remarks>Concurrency: <see cref="DisposeAsync"/> and <see cref="DropAsync"/> drop the database once;
/// <see cref="_dropped"/> is set by <see cref="Interlocked.Exchange(ref int, int)"/>.</remarks>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly PostgresTestServer _server;
    private int _dropped;

    internal TestDatabase(PostgresTestServer server, string name, string connectionString)
    {
        _server = server;
        Name = name;
        ConnectionString = connectionString;
    }

    /// <summary>Gets the database name.</summary>
    public string Name { get; }

    /// <summary>Gets the superuser connection string of this database.</summary>
    /// <value>An Npgsql connection string. <b>It contains the password</b>; never log it (use <see cref="ToString"/>).</value>
    public string ConnectionString { get; }

    /// <summary>Gets the server the database lives on.</summary>
    public PostgresTestServer Server => _server;

    /// <summary>
    /// Gets <see cref="ConnectionString"/> with the given application name and, by default, Npgsql's own pooling off.
    /// </summary>
    /// <param name="applicationName">The <c>Application Name</c> to set.</param>
    /// <param name="pooling">Whether Npgsql's built-in pool is used. Default <see langword="false"/>.</param>
    /// <returns>The connection string. It contains the password.</returns>
    /// <exception cref="ArgumentException"><paramref name="applicationName"/> is null or blank.</exception>
    public string GetConnectionString(string applicationName, bool pooling = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(applicationName);
        NpgsqlConnectionStringBuilder builder = new(ConnectionString)
        {
            ApplicationName = applicationName,
            Pooling = pooling,
        };
        return builder.ConnectionString;
    }

    /// <summary>Drops the database now (<c>DROP DATABASE … WITH (FORCE)</c>); calling it again does nothing.</summary>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>A task that completes when the database is gone.</returns>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="NpgsqlException">The server could not be reached, or the role may not drop the database.</exception>
    public async Task DropAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _dropped, 1) != 0)
        {
            return;
        }

        try
        {
            await _server.DropDatabaseAsync(Name, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Volatile.Write(ref _dropped, 0); // not dropped: a later call may try again
            throw;
        }
    }

    /// <summary>Drops the database (see <see cref="DropAsync"/>); does nothing when the server is already disposed,
    /// since disposing the server removes what it created.</summary>
    /// <returns>A task that completes when the database is gone.</returns>
    /// <exception cref="NpgsqlException">The server could not be reached, or the role may not drop the database.</exception>
    public async ValueTask DisposeAsync()
    {
        if (_server.IsDisposed)
        {
            return;
        }

        await DropAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Describes the database without its password, e.g. <c>database poolkit_test_1a2b on PostgreSQL (LocalCluster) postgres@127.0.0.1:40123/postgres</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => $"database {Name} on {_server}";
}
