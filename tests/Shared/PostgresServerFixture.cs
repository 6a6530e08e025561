// Shared by the database test projects. Include it and PostgresServerCollectionDefinition.cs next to it with
//   <Compile Include="../Shared/PostgresServerFixture.cs" Link="Shared/PostgresServerFixture.cs" />
//   <Compile Include="../Shared/PostgresServerCollectionDefinition.cs" Link="Shared/PostgresServerCollectionDefinition.cs" />
// and mark test classes [Collection(PostgresServerCollectionDefinition.Name)] to share one server per test run.
using Npgsql;
using PoolKit.Testing;

namespace PoolKit.Tests.Fixtures;

/// <summary>
/// One PostgreSQL server for a whole xUnit collection, started by <see cref="PostgresTestServer"/> (the
/// POOLKIT_TEST_CONNECTION_STRING server when set, otherwise a container or a throwaway local cluster) and
/// removed when the collection is done. If no server can be provided, every test of the collection fails with
/// <see cref="PostgresUnavailableException"/>, whose message says what to install or set: nothing is skipped.
/// </summary>
public sealed class PostgresServerFixture : Xunit.IAsyncLifetime
{
    private PostgresTestServer? _server;

    /// <summary>Gets the running server.</summary>
    public PostgresTestServer Server =>
        _server ?? throw new InvalidOperationException("The PostgreSQL fixture is not initialized yet.");

    /// <summary>Gets the superuser connection string (contains the password; do not log it).</summary>
    public string ConnectionString => Server.ConnectionString;

    /// <summary>Gets a connection string with the given application name and Npgsql pooling off.</summary>
    public string GetConnectionString(string applicationName) => Server.GetConnectionString(applicationName);

    /// <summary>Opens a new non-pooled connection with the given application name.</summary>
    public async Task<NpgsqlConnection> OpenConnectionAsync(string applicationName = "PoolKit tests")
    {
        NpgsqlConnection connection = new(GetConnectionString(applicationName));
        await connection.OpenAsync();
        return connection;
    }

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await PostgresTestServer.StartAsync();

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
