using System.Net;
using System.Net.Sockets;
using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Cli.Tests.Infrastructure;

/// <summary>Bad input ends with one line on standard error that says what to do, a non-zero exit code, no stack trace.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class BadInputTests(PostgresServerFixture fixture)
{
    [Fact]
    public async Task UnknownOption_ExitsWithUsageError()
    {
        var cli = new CliHarness();

        int exitCode = await cli.RunAsync("demo", "--no-such-option");

        Assert.Equal(2, exitCode);
        string line = cli.AssertOneLineError();
        Assert.Contains("--no-such-option", line, StringComparison.Ordinal);
        Assert.Contains("--help", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoCommand_ExitsWithUsageError()
    {
        var cli = new CliHarness();

        Assert.Equal(2, await cli.RunAsync());
        cli.AssertOneLineError();
    }

    [Fact]
    public async Task BadValue_ExitsWithUsageError()
    {
        var cli = new CliHarness();

        Assert.Equal(2, await cli.RunAsync("demo", "--rows", "many"));
        Assert.Contains("many", cli.AssertOneLineError(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OutOfRangeValue_SaysWhichOption()
    {
        var cli = new CliHarness();

        Assert.Equal(1, await cli.RunAsync("demo", "--rows", "0", "--parallelism", "0"));
        string line = cli.AssertOneLineError();
        Assert.Contains("--rows is 0", line, StringComparison.Ordinal);
        Assert.Contains("--parallelism is 0", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_ExplainsEveryOption()
    {
        var cli = new CliHarness();

        Assert.Equal(0, await cli.RunAsync("size", "--help"));
        string help = cli.Output.ToString();
        foreach (string option in new[] { "--sizes", "--clients", "--duration", "--warmup", "--tolerance", "--sql", "--accounts", "--reset", "--json", "--plot", "--connection", "--pg-bin" })
        {
            Assert.Contains(option, help, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task UnreachableServer_SaysCannotReach()
    {
        var cli = new CliHarness();
        string connection = $"Host=127.0.0.1;Port={ClosedPort()};Username=postgres;Password=secret-one;Timeout=5";

        int exitCode = await cli.RunAsync("demo", "--rows", "10", "--connection", connection);

        Assert.Equal(1, exitCode);
        string line = cli.AssertOneLineError();
        Assert.Contains("Cannot reach PostgreSQL at postgres@127.0.0.1:", line, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-one", cli.Everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WrongPassword_SaysLoginRefusedAndNeverPrintsIt()
    {
        var cli = new CliHarness();
        NpgsqlConnectionStringBuilder builder = fixture.Server.CreateConnectionStringBuilder();
        builder.Password = "not-the-password-4711";

        int exitCode = await cli.RunAsync("size", "--sizes", "1", "--connection", builder.ConnectionString);

        Assert.Equal(1, exitCode);
        string line = cli.AssertOneLineError();
        Assert.Contains("refused the login", line, StringComparison.Ordinal);
        Assert.Contains("password", line, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password-4711", cli.Everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvalidConnectionString_SaysWhatFormToUse()
    {
        var cli = new CliHarness();

        Assert.Equal(1, await cli.RunAsync("demo", "--connection", "Hots=localhost;Password=hunter2"));
        string line = cli.AssertOneLineError();
        Assert.Contains("not a valid Npgsql connection string", line, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", cli.Everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingPostgresBinaries_SaysWhatToInstall()
    {
        var cli = new CliHarness();

        int exitCode = await cli.RunAsync("demo", "--rows", "10", "--pg-bin", "/nonexistent/postgresql/bin");

        Assert.Equal(1, exitCode);
        string line = cli.AssertOneLineError();
        Assert.Contains("/nonexistent/postgresql/bin", line, StringComparison.Ordinal);
        Assert.Contains("apt-get install postgresql", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingSqlFile_SaysWhichFile()
    {
        var cli = new CliHarness();

        Assert.Equal(1, await cli.RunAsync("size", "--sql", "/nonexistent/work.sql", "--connection", fixture.ConnectionString));
        Assert.Contains("/nonexistent/work.sql", cli.AssertOneLineError(), StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
