using Npgsql;
using Xunit;

namespace PoolKit.Testing.Xunit;

/// <summary>
/// An xUnit fixture holding one PostgreSQL server, started by
/// <see cref="PostgresTestServer.StartAsync(PostgresTestServerOptions?, CancellationToken)"/> before the first test
/// that uses it and removed after the last (the <c>POOLKIT_TEST_CONNECTION_STRING</c> server when set, otherwise a
/// container when PoolKit.Testing.Containers is referenced and Docker is reachable, otherwise a throwaway cluster from
/// the local binaries). If no server can be provided, every test that uses it fails with
/// <see cref="PostgresUnavailableException"/>, whose message says what to install or set: nothing is skipped.
/// </summary>
/// <remarks>
/// <para>Use it per class with <c>IClassFixture&lt;PostgresServerFixture&gt;</c>, or share one server across classes
/// with a collection definition in your test assembly (xUnit requires it there):</para>
/// <code>
/// [CollectionDefinition("PostgreSQL")]
/// public sealed class PostgresCollection : ICollectionFixture&lt;PostgresServerFixture&gt;;
///
/// [Collection("PostgreSQL")]
/// public sealed class OrderTests(PostgresServerFixture postgres) { ... }
/// </code>
/// <para>Derive from it and override <see cref="CreateOptions"/> to change how the server is started.</para>
/// </remarks>
public class PostgresServerFixture : IAsyncLifetime
{
    private PostgresTestServer? _server;

    /// <summary>Gets the running server.</summary>
    /// <exception cref="InvalidOperationException">The fixture is not initialized yet (xUnit calls
    /// <see cref="InitializeAsync"/> before the first test).</exception>
    public PostgresTestServer Server =>
        _server ?? throw new InvalidOperationException("The PostgreSQL fixture is not initialized yet.");

    /// <summary>Gets the superuser connection string of the server.</summary>
    /// <value>An Npgsql connection string. It contains the password: never log it (log <see cref="Server"/>).</value>
    public string ConnectionString => Server.ConnectionString;

    /// <summary>Gets a connection string with the given application name and Npgsql's own pooling off.</summary>
    /// <param name="applicationName">The <c>Application Name</c>, so a test can count or terminate its connections.</param>
    /// <returns>The connection string. It contains the password.</returns>
    /// <exception cref="ArgumentException"><paramref name="applicationName"/> is null or blank.</exception>
    public string GetConnectionString(string applicationName) => Server.GetConnectionString(applicationName);

    /// <summary>Opens a new non-pooled connection with the given application name.</summary>
    /// <param name="applicationName">The <c>Application Name</c>. Default <c>PoolKit tests</c>.</param>
    /// <returns>The open connection; dispose it.</returns>
    /// <exception cref="NpgsqlException">The server could not be reached.</exception>
    public async Task<NpgsqlConnection> OpenConnectionAsync(string applicationName = "PoolKit tests")
    {
        NpgsqlConnection connection = new(GetConnectionString(applicationName));
        try
        {
            await connection.OpenAsync().ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates a fresh, empty database for one test; dispose it to drop it.</summary>
    /// <returns>The database, with its name and connection string.</returns>
    /// <exception cref="PostgresException">The role may not create databases.</exception>
    public Task<TestDatabase> CreateDatabaseAsync() => Server.CreateDatabaseAsync();

    /// <summary>Starts the server. Called by xUnit before the first test that uses the fixture.</summary>
    /// <returns>A task that completes when the server is running.</returns>
    /// <exception cref="PostgresUnavailableException">No source could provide a server.</exception>
    public async Task InitializeAsync() =>
        _server = await PostgresTestServer.StartAsync(CreateOptions()).ConfigureAwait(false);

    /// <summary>Removes the server. Called by xUnit after the last test that uses the fixture.</summary>
    /// <returns>A task that completes when the server is removed.</returns>
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Returns the options the server is started with.</summary>
    /// <returns>The options. The default: <see langword="null"/>, that is the defaults of
    /// <see cref="PostgresTestServerOptions"/>.</returns>
    protected virtual PostgresTestServerOptions? CreateOptions() => null;
}
