using System.Text.RegularExpressions;
using Npgsql;
using PoolKit.Cli.Demo;
using PoolKit.Testing;
using PoolKit.Tests.Fixtures;
using Spectre.Console.Testing;
using Xunit.Abstractions;

namespace PoolKit.Cli.Tests.Demo;

/// <summary>The demo end to end on the shared test server, with small N.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed partial class DemoRunnerTests(PostgresServerFixture fixture, ITestOutputHelper output)
{
    private const int Rows = 300;
    private const int Parallelism = 4;

    [Fact]
    public async Task Run_EveryWay_LeavesExactlyNDistinctRowsAndCountsServerConnections()
    {
        const int Sample = 120;
        var console = new TestConsole();
        console.Profile.Width = 200;
        var runner = new DemoRunner(new DemoOptions { Rows = Rows, NoPoolRows = Sample, Parallelism = Parallelism, ChunkSize = 100 }, console);

        // A database of its own: pg_stat_database.sessions is per database, so nothing else is counted in it.
        DemoResult result;
        await using (TestDatabase ownDatabase = await fixture.Server.CreateDatabaseAsync())
        {
            result = await runner.RunAsync(ownDatabase.ConnectionString, CancellationToken.None).WaitAsync(CliHarness.Limit);
        }

        DemoReport.Write(console, result);
        output.WriteLine(console.Output);

        Assert.True(result.Succeeded);
        Assert.False(result.Canceled);
        Assert.Equal(
            [DemoWay.NpgsqlPool, DemoWay.PoolKitPerInsert, DemoWay.PoolPerInsert, DemoWay.HandChunked, DemoWay.PoolChunked, DemoWay.PoolInsert, DemoWay.HandCopy, DemoWay.PoolCopy, DemoWay.NoPool],
            result.Runs.Select(static r => r.Way));
        Assert.All(result.Runs, static run =>
        {
            int expected = run.Way == DemoWay.NoPool ? Sample : Rows;
            Assert.True(run.Ran);
            Assert.Null(run.Error);
            Assert.Equal(expected, run.RequestedRows);
            Assert.Equal(expected, run.Committed);
            Assert.Equal(expected, run.TableRows);
            Assert.Equal(expected, run.DistinctIds);
            Assert.True(run.ConnectionsFromServer, "PostgreSQL 14+ reports pg_stat_database.sessions");
            Assert.True(run.TableCheckPassed);
        });

        // No pool: one physical connection per insert, as the server counted them.
        DemoRunResult noPool = result.Runs[^1];
        Assert.Equal(Sample, noPool.ClientConnectionsOpened);
        Assert.Equal(Sample, noPool.ConnectionsOpened);

        // Every pool never opens more than its MaxSize, and the server saw exactly the connections the client saw.
        foreach (DemoRunResult pooled in result.Runs.SkipLast(1))
        {
            Assert.InRange(pooled.ClientConnectionsOpened, 1, Parallelism);
            Assert.Equal(pooled.ClientConnectionsOpened, pooled.ConnectionsOpened);
        }

        Assert.Equal(8, Regex.Count(console.Output, "ok: 300 distinct"));
        Assert.Contains("vs by hand", console.Output, StringComparison.Ordinal);
        Assert.Contains("hand-written: one COPY stream", console.Output, StringComparison.Ordinal);
        Assert.Contains("ok: 120 distinct", console.Output, StringComparison.Ordinal);
        Assert.Contains("1.0x", console.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_CanceledDuringFirstWay_ReportedCommittedEqualsTableRowsAndRestSkipped()
    {
        var console = new TestConsole();
        console.Profile.Width = 200;
        // Large enough that the first way (Npgsql's pool, some thousands of inserts/s here) cannot finish before the cancel.
        var runner = new DemoRunner(new DemoOptions { Rows = 2_000_000, Parallelism = Parallelism }, console);
        using var cancel = new CancellationTokenSource();
        cancel.CancelAfter(TimeSpan.FromSeconds(1.5));

        DemoResult result = await runner.RunAsync(fixture.ConnectionString, cancel.Token).WaitAsync(CliHarness.Limit);
        DemoReport.Write(console, result);
        output.WriteLine(console.Output);

        Assert.True(result.Canceled);
        Assert.False(result.Succeeded);
        DemoRunResult stopped = result.Runs[0];
        Assert.True(stopped.Ran);
        Assert.True(stopped.Canceled);
        Assert.InRange(stopped.Committed, 1, 2_000_000 - 1);
        Assert.Equal(0, stopped.Unknown);
        Assert.Equal(stopped.Committed, stopped.TableRows);
        Assert.Equal(stopped.Committed, stopped.DistinctIds);
        Assert.All(result.Runs.Skip(1), static r => Assert.False(r.Ran));
        Assert.Contains("Stopped by Ctrl+C", console.Output, StringComparison.Ordinal);
        Assert.Equal(0, await CountDemoTablesAsync());
    }

    [Fact]
    public async Task DemoCommand_NoConnectionString_StartsAThrowawayServerAndRemovesIt()
    {
        var cli = new CliHarness();

        int exitCode = await cli.RunAsync("demo", "--rows", "50", "--parallelism", "2", "--chunk", "10");
        output.WriteLine(cli.Everything);

        Assert.Equal(0, exitCode);
        Assert.Equal(string.Empty, cli.Error.ToString());
        Match port = ThrowawayPort().Match(cli.Console.Output);
        Assert.True(port.Success, "the output names the throwaway server");
        Assert.Equal(9, Regex.Count(cli.Console.Output, "ok: 50 distinct"));

        // Gone: nothing listens on its port any more.
        var builder = new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = int.Parse(port.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), Username = "postgres", Timeout = 5, Pooling = false };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await Assert.ThrowsAsync<NpgsqlException>(() => connection.OpenAsync());
    }

    [Fact]
    public async Task DemoCommand_WithConnection_UsesItAndNeverPrintsThePassword()
    {
        var cli = new CliHarness();
        string password = fixture.Server.CreateConnectionStringBuilder().Password!;

        int exitCode = await cli.RunAsync("demo", "--rows", "40", "--parallelism", "2", "--connection", fixture.ConnectionString);

        Assert.Equal(0, exitCode);
        Assert.Contains("(from --connection)", cli.Console.Output, StringComparison.Ordinal);
        Assert.Equal(9, Regex.Count(cli.Console.Output, "ok: 40 distinct"));
        Assert.DoesNotContain(password, cli.Everything, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DemoCommand_ConnectionFromEnvironment_IsUsed()
    {
        var cli = new CliHarness(name => name == "POOLKIT_CONNECTION_STRING" ? fixture.ConnectionString : null);

        int exitCode = await cli.RunAsync("demo", "--rows", "20", "--parallelism", "2");

        Assert.Equal(0, exitCode);
        Assert.Contains("(from POOLKIT_CONNECTION_STRING)", cli.Console.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DemoCommand_Canceled_ExitsWith130AndSaysWhatCommitted()
    {
        var cli = new CliHarness();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));

        int exitCode = await cli.RunAsync(["demo", "--rows", "2000000", "--parallelism", "2", "--connection", fixture.ConnectionString], cancel.Token);

        Assert.Equal(130, exitCode);
        Match stopped = StoppedLine().Match(cli.Console.Output);
        Assert.True(stopped.Success, cli.Console.Output);
        Assert.Equal(stopped.Groups["committed"].Value, stopped.Groups["table"].Value);
        Assert.Contains("not run (stopped)", cli.Console.Output, StringComparison.Ordinal);
    }

    private async Task<long> CountDemoTablesAsync()
    {
        await using NpgsqlConnection connection = await fixture.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'poolkit\\_demo\\_%'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    [GeneratedRegex(@"127\.0\.0\.1:(\d+)/postgres \(removed at")]
    private static partial Regex ThrowawayPort();

    [GeneratedRegex(@"(?<committed>[\d,]+) of 2,000,000 inserts committed, and the table held (?<table>[\d,]+) rows")]
    private static partial Regex StoppedLine();
}
