using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Testing.Tests;

/// <summary>
/// No message of PoolKit.Testing shows a connection string or a password: a canary password is pushed through every
/// failure path (bad environment value, unreachable server, wrong password, a connection string where a name belongs,
/// unsupported fault controls, disposed server), and each exception's full <see cref="Exception.ToString"/> (inner
/// exceptions and stack included) is searched for it.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PostgresTestServerSecretTests(PostgresServerFixture fixture)
{
    // Two halves, so a message that quotes a fragment of a split value is caught too.
    private const string CanaryStart = "Cnry7Q";
    private const string CanaryEnd = "x4ZpW9";
    private const string Canary = CanaryStart + CanaryEnd;
    private const string Variable = "POOLKIT_CANARY_CONNECTION_STRING";

    [Theory]
    [InlineData("Host=127.0.0.1;Password=" + Canary + ";Port=not-a-port")]
    [InlineData("Host=127.0.0.1;Password=" + CanaryStart + ";" + CanaryEnd + "=1")] // the password runs into a bogus keyword
    [InlineData("Host=127.0.0.1;Password=" + Canary + ";Timeout=-5;Pooling=maybe")]
    [InlineData(Canary)]
    public async Task StartAsync_InvalidEnvironmentValue_ThrowsWithoutShowingIt(string value)
    {
        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(() => PostgresTestServer.StartAsync(FromEnvironment(value)));

        Assert.Contains(Variable, error.Message, StringComparison.Ordinal);
        AssertNoSecret(error);
    }

    [Fact]
    public async Task AdminHelpers_UnreachableServer_FailWithoutShowingThePassword()
    {
        string connectionString = $"Host=127.0.0.1;Port={ClosedPort()};Username=postgres;Password={Canary};Database=postgres;Timeout=3";
        await using PostgresTestServer server = await PostgresTestServer.StartAsync(FromEnvironment(connectionString));

        AssertNoSecret(await Assert.ThrowsAnyAsync<NpgsqlException>(() => server.CountBackendsAsync("app")));
        AssertNoSecret(await Assert.ThrowsAnyAsync<NpgsqlException>(() => server.TerminateBackendsAsync("app")));
        AssertNoSecret(await Assert.ThrowsAnyAsync<NpgsqlException>(() => server.CreateDatabaseAsync()));
        AssertNoSecret(await Assert.ThrowsAnyAsync<NpgsqlException>(() => server.DropDatabaseAsync("some_database")));
        Assert.DoesNotContain(CanaryStart, server.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminHelpers_WrongPassword_FailWithoutShowingIt()
    {
        NpgsqlConnectionStringBuilder builder = fixture.Server.CreateConnectionStringBuilder();
        builder.Password = Canary;
        await using PostgresTestServer server = await PostgresTestServer.StartAsync(FromEnvironment(builder.ConnectionString));

        PostgresException refused = await Assert.ThrowsAsync<PostgresException>(() => server.CountBackendsAsync("app"));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, refused.SqlState); // the path is real: the server refused it
        AssertNoSecret(refused);
        AssertNoSecret(await Assert.ThrowsAsync<PostgresException>(() => server.TerminateBackendsAsync("app")));
        AssertNoSecret(await Assert.ThrowsAsync<PostgresException>(() => server.CreateDatabaseAsync()));
        AssertNoSecret(await Assert.ThrowsAsync<PostgresException>(() => server.DropDatabaseAsync("some_database")));
    }

    [Fact]
    public async Task DatabaseHelpers_ConnectionStringAsName_ThrowWithoutShowingIt()
    {
        string connectionString = $"Host=127.0.0.1;Port={ClosedPort()};Username=postgres;Password={Canary};Database=postgres";
        await using PostgresTestServer server = await PostgresTestServer.StartAsync(FromEnvironment(connectionString));

        AssertNoSecret(await Assert.ThrowsAsync<ArgumentException>(() => server.DropDatabaseAsync(connectionString)));
        AssertNoSecret(await Assert.ThrowsAsync<ArgumentException>(() => server.CreateDatabaseAsync(connectionString)));
        AssertNoSecret(await Assert.ThrowsAsync<ArgumentException>(() => server.DropDatabaseAsync(Canary)));
        AssertNoSecret(await Assert.ThrowsAsync<ArgumentException>(() => server.CreateDatabaseAsync("db_" + Canary)));
    }

    [Fact]
    public async Task FaultControlsAndDisposal_EnvironmentServer_ThrowWithoutShowingThePassword()
    {
        string connectionString = $"Host=127.0.0.1;Port={ClosedPort()};Username=postgres;Password={Canary};Database=postgres;Timeout=3";
        PostgresTestServer server = await PostgresTestServer.StartAsync(FromEnvironment(connectionString));

        AssertNoSecret(await Assert.ThrowsAsync<NotSupportedException>(() => server.StopAsync()));
        AssertNoSecret(await Assert.ThrowsAsync<NotSupportedException>(() => server.FreezeAsync()));
        AssertNoSecret(await Assert.ThrowsAsync<NotSupportedException>(() => server.RestartAsync()));
        await server.DisposeAsync();
        AssertNoSecret(await Assert.ThrowsAsync<ObjectDisposedException>(() => server.CountBackendsAsync("app")));
        AssertNoSecret(await Assert.ThrowsAsync<ObjectDisposedException>(() => server.CreateDatabaseAsync()));
    }

    [Fact]
    public async Task StartAsync_ContainerProviderFails_ReportsItWithoutTheEnvironmentValue()
    {
        PostgresTestServerOptions options = new()
        {
            EnvironmentVariable = Variable,
            GetEnvironmentVariable = _ => null,
            ContainerProvider = new FailingProvider(),
            BinarySearchPaths = [],
        };

        PostgresUnavailableException error = await Assert.ThrowsAsync<PostgresUnavailableException>(() => PostgresTestServer.StartAsync(options));

        Assert.Contains("engine exploded", error.Message, StringComparison.Ordinal);
        AssertNoSecret(error);
    }

    private static PostgresTestServerOptions FromEnvironment(string value) => new()
    {
        EnvironmentVariable = Variable,
        GetEnvironmentVariable = name => name == Variable ? value : null,
        UseDocker = false,
        BinarySearchPaths = [],
    };

    private static void AssertNoSecret(Exception error)
    {
        string everything = error.ToString();
        Assert.DoesNotContain(CanaryStart, everything, StringComparison.OrdinalIgnoreCase); // parsers lower-case keywords
        Assert.DoesNotContain(CanaryEnd, everything, StringComparison.OrdinalIgnoreCase);
        // The only "Password=" allowed is the placeholder of the how-to-fix example ("Password=...").
        Assert.DoesNotMatch(new Regex("Password=(?!\\.\\.\\.)", RegexOptions.IgnoreCase), everything);
    }

    private static int ClosedPort()
    {
        // A port that was free a moment ago: connecting to it is refused at once.
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private sealed class FailingProvider : IPostgresContainerProvider
    {
        public Task<string?> FindProblemAsync(Func<string, string?> getEnvironmentVariable, CancellationToken cancellationToken) =>
            Task.FromResult<string?>(null);

        public Task<IPostgresContainer> StartAsync(string imageName, int maxConnections, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("engine exploded");
    }
}
