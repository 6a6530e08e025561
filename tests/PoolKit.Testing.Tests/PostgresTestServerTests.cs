using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Testing.Tests;

/// <summary>Helpers that work on every source, against the shared server of the collection fixture.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PostgresTestServerTests(PostgresServerFixture fixture)
{
    private readonly PostgresTestServer _server = fixture.Server;

    [Fact]
    public async Task ConnectionString_SharedServer_AnswersSelectOne()
    {
        await using NpgsqlConnection connection = new(_server.ConnectionString);
        await connection.OpenAsync();
        await using NpgsqlCommand command = new("SELECT 1", connection);

        Assert.Equal(1, await command.ExecuteScalarAsync());
    }

    [Fact]
    public void ToString_Always_OmitsPassword()
    {
        string password = _server.CreateConnectionStringBuilder().Password!;
        string text = _server.ToString();

        Assert.False(string.IsNullOrEmpty(password));
        Assert.DoesNotContain(password, text, StringComparison.Ordinal);
        Assert.DoesNotContain("Password", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(_server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), text, StringComparison.Ordinal);
    }

    [Fact]
    public void GetConnectionString_ApplicationName_SetsNameAndTurnsPoolingOff()
    {
        NpgsqlConnectionStringBuilder builder = new(_server.GetConnectionString("my-app"));

        Assert.Equal("my-app", builder.ApplicationName);
        Assert.False(builder.Pooling);
        Assert.Equal(_server.Port, builder.Port);
    }

    [Fact]
    public async Task CountBackendsAsync_ConnectionsWithApplicationName_CountsOnlyThose()
    {
        string name = "count-" + Guid.NewGuid().ToString("N");
        List<NpgsqlConnection> connections = [];
        try
        {
            for (int i = 0; i < 3; i++)
            {
                NpgsqlConnection connection = new(_server.GetConnectionString(name));
                connections.Add(connection);
                await connection.OpenAsync();
            }

            await using NpgsqlConnection other = new(_server.GetConnectionString(name + "-other"));
            await other.OpenAsync();

            Assert.Equal(3, await _server.CountBackendsAsync(name));
        }
        finally
        {
            foreach (NpgsqlConnection connection in connections)
            {
                await connection.DisposeAsync();
            }
        }

        Assert.Equal(0, await WaitForCountAsync(name, 0));
    }

    [Fact]
    public async Task TerminateBackendsAsync_ConnectionsWithApplicationName_TerminatesThemAndTheirQueriesFail()
    {
        string name = "terminate-" + Guid.NewGuid().ToString("N");
        await using NpgsqlConnection first = new(_server.GetConnectionString(name));
        await using NpgsqlConnection second = new(_server.GetConnectionString(name));
        await using NpgsqlConnection bystander = new(_server.GetConnectionString(name + "-bystander"));
        await first.OpenAsync();
        await second.OpenAsync();
        await bystander.OpenAsync();

        int terminated = await _server.TerminateBackendsAsync(name);

        Assert.Equal(2, terminated);
        Assert.Equal(0, await WaitForCountAsync(name, 0));
        await using NpgsqlCommand query = new("SELECT 1", first);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => query.ExecuteScalarAsync());
        await using NpgsqlCommand stillThere = new("SELECT 1", bystander);
        Assert.Equal(1, await stillThere.ExecuteScalarAsync());
    }

    [Fact]
    public async Task CreateDatabaseAsync_NoName_CreatesEmptyDatabaseThatDisposingDrops()
    {
        string name;
        await using (TestDatabase database = await _server.CreateDatabaseAsync())
        {
            name = database.Name;
            await using NpgsqlConnection connection = new(database.GetConnectionString("create-check"));
            await connection.OpenAsync();
            await using NpgsqlCommand command = new("SELECT current_database()", connection);

            Assert.StartsWith("poolkit_test_", name, StringComparison.Ordinal);
            Assert.Equal(name, new NpgsqlConnectionStringBuilder(database.ConnectionString).Database);
            Assert.Equal(name, await command.ExecuteScalarAsync());
            Assert.Equal(1, await CountDatabasesAsync(name));
        }

        // Disposing dropped it, although the connection above was still open when the drop began.
        Assert.Equal(0, await CountDatabasesAsync(name));
    }

    [Fact]
    public async Task DropDatabaseAsync_ByName_DropsAndTheTestDatabaseDisposesQuietlyAfterwards()
    {
        TestDatabase database = await _server.CreateDatabaseAsync();

        await _server.DropDatabaseAsync(database.Name);
        await database.DisposeAsync(); // dropping a missing database is not an error

        Assert.Equal(0, await CountDatabasesAsync(database.Name));
    }

    [Fact]
    public async Task DropAsync_Twice_DropsOnce()
    {
        TestDatabase database = await _server.CreateDatabaseAsync("poolkit_test_drop_twice");

        await database.DropAsync();
        await database.DropAsync();
        await database.DisposeAsync();

        Assert.Equal("poolkit_test_drop_twice", database.Name);
        Assert.Equal(0, await CountDatabasesAsync(database.Name));
        Assert.DoesNotContain(_server.CreateConnectionStringBuilder().Password!, database.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task DropDatabaseAsync_ConnectionStringInsteadOfName_ThrowsWithoutRepeatingIt()
    {
        // The trap this API had: CreateDatabaseAsync gave a connection string, DropDatabaseAsync wanted a name, and the
        // error printed the connection string, password included.
        await using TestDatabase database = await _server.CreateDatabaseAsync();

        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(() => _server.DropDatabaseAsync(database.ConnectionString));

        Assert.DoesNotContain(_server.CreateConnectionStringBuilder().Password!, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(database.ConnectionString, error.ToString(), StringComparison.Ordinal);
        Assert.Contains("TestDatabase.Name", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await CountDatabasesAsync(database.Name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Upper")]
    [InlineData("1starts_with_digit")]
    [InlineData("quote\"injection")]
    public async Task CreateDatabaseAsync_InvalidName_ThrowsArgumentException(string name)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _server.CreateDatabaseAsync(name));
    }

    private async Task<int> CountDatabasesAsync(string name)
    {
        await using NpgsqlConnection admin = new(_server.GetConnectionString("database-check"));
        await admin.OpenAsync();
        await using NpgsqlCommand exists = new("SELECT count(*)::int FROM pg_database WHERE datname = $1", admin);
        exists.Parameters.Add(new NpgsqlParameter { Value = name });
        return (int)(await exists.ExecuteScalarAsync())!;
    }

    private async Task<int> WaitForCountAsync(string applicationName, int expected)
    {
        // A closed connection's backend exits asynchronously; poll briefly rather than sleep a fixed time.
        int count = -1;
        for (int i = 0; i < 50; i++)
        {
            count = await _server.CountBackendsAsync(applicationName);
            if (count == expected)
            {
                break;
            }

            await Task.Delay(100);
        }

        return count;
    }
}
