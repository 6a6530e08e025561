using System.Text.Json;
using PoolKit.Tests.Fixtures;
using Xunit.Abstractions;

namespace PoolKit.Cli.Tests.Sizing;

/// <summary><c>poolkit size</c> end to end on the shared test server, with three sizes of one second each.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class SizeCommandTests(PostgresServerFixture fixture, ITestOutputHelper output) : IDisposable
{
    private static readonly byte[] s_pngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly string _directory = Directory.CreateTempSubdirectory("poolkit-cli-tests-").FullName;

    [Fact]
    public async Task Size_ThreeSizes_WritesJsonWithOneEntryPerSizeAndAValidPng()
    {
        var cli = new CliHarness();
        string json = Path.Combine(_directory, "sizes.json");
        string png = Path.Combine(_directory, "sizes.png");

        int exitCode = await cli.RunAsync(
            "size", "--sizes", "1,2,4", "--clients", "4", "--duration", "1", "--warmup", "0.3", "--accounts", "100",
            "--json", json, "--plot", png, "--connection", fixture.ConnectionString);
        output.WriteLine(cli.Everything);

        Assert.Equal(0, exitCode);
        using (JsonDocument document = JsonDocument.Parse(await File.ReadAllTextAsync(json)))
        {
            AssertSizingJson(document.RootElement, [1, 2, 4]);
            Assert.Equal("Discard", document.RootElement.GetProperty("resetMode").GetString());
        }

        byte[] image = await File.ReadAllBytesAsync(png);
        Assert.True(image.Length > 5_000, $"the PNG is only {image.Length} bytes"); // the chart itself: SizePlotTests
        Assert.Equal(s_pngSignature, image[..8]);
        Assert.Contains("Recommended MaxSize:", cli.Console.Output, StringComparison.Ordinal);
        Assert.Equal(0, await CountScratchSchemasAsync());
    }

    [Fact]
    public async Task Size_JsonToStandardOutput_IsTheOnlyThingOnStandardOutput()
    {
        var cli = new CliHarness();

        int exitCode = await cli.RunAsync(
            "size", "--sizes", "2,1", "--clients", "2", "--duration", "1", "--warmup", "0", "--accounts", "50",
            "--reset", "RollbackOnly", "--json", "-", "--connection", fixture.ConnectionString);
        output.WriteLine(cli.Everything);

        Assert.Equal(0, exitCode);
        using JsonDocument document = JsonDocument.Parse(cli.Output.ToString());
        AssertSizingJson(document.RootElement, [2, 1]);
        Assert.Equal("RollbackOnly", document.RootElement.GetProperty("resetMode").GetString());
        Assert.Equal(string.Empty, cli.Console.Output);
        Assert.Contains("Recommended MaxSize:", cli.Diagnostics.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Size_SqlFile_RunsTheFileAsTheWorkload()
    {
        var cli = new CliHarness();
        string sql = Path.Combine(_directory, "work.sql");
        await File.WriteAllTextAsync(sql, "SELECT 1; SELECT count(*) FROM pg_class;");

        int exitCode = await cli.RunAsync(
            "size", "--sizes", "1", "--clients", "2", "--duration", "0.5", "--warmup", "0", "--sql", sql, "--json", "-",
            "--connection", fixture.ConnectionString);

        Assert.Equal(0, exitCode);
        using JsonDocument document = JsonDocument.Parse(cli.Output.ToString());
        Assert.Equal("SQL file work.sql, one transaction per run", document.RootElement.GetProperty("workload").GetString());
        AssertSizingJson(document.RootElement, [1]);
    }

    [Fact]
    public async Task Size_SqlFileThatFails_OneLineErrorNamingTheSize()
    {
        var cli = new CliHarness();
        string sql = Path.Combine(_directory, "broken.sql");
        await File.WriteAllTextAsync(sql, "SELECT * FROM no_such_table_here;");

        int exitCode = await cli.RunAsync(
            "size", "--sizes", "2", "--clients", "2", "--duration", "0.5", "--warmup", "0", "--sql", sql, "--connection", fixture.ConnectionString);

        Assert.Equal(1, exitCode);
        string line = cli.AssertOneLineError();
        Assert.Contains("pool size 2", line, StringComparison.Ordinal);
        Assert.Contains("42P01", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Size_CanceledDuringSecondSize_ReportsOnlyTheFinishedSizeAndCleansUp()
    {
        var cli = new CliHarness();
        using var cancel = new CancellationTokenSource();

        Task<int> run = cli.RunAsync(
            ["size", "--sizes", "1,2,4", "--clients", "2", "--duration", "1", "--warmup", "0", "--accounts", "50",
             "--json", "-", "--connection", fixture.ConnectionString],
            cancel.Token);
        // Cancel as soon as the server sees the second size's connections (application name "poolkit size <run> 2").
        while (await CountSizeTwoBackendsAsync() == 0 && !run.IsCompleted)
        {
            await Task.Delay(20);
        }

        await cancel.CancelAsync();
        int exitCode = await run;
        output.WriteLine(cli.Everything);

        Assert.Equal(130, exitCode);
        using JsonDocument document = JsonDocument.Parse(cli.Output.ToString());
        Assert.True(document.RootElement.GetProperty("canceled").GetBoolean());
        JsonElement only = Assert.Single(document.RootElement.GetProperty("results").EnumerateArray());
        Assert.Equal(1, only.GetProperty("poolSize").GetInt32());
        Assert.Equal(1, document.RootElement.GetProperty("recommendedPoolSize").GetInt32());
        Assert.Contains("Stopped by Ctrl+C", cli.Diagnostics.Output, StringComparison.Ordinal);
        Assert.Equal(0, await CountScratchSchemasAsync());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static void AssertSizingJson(JsonElement root, int[] sizes)
    {
        JsonElement[] results = root.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(sizes, results.Select(static r => r.GetProperty("poolSize").GetInt32()));
        Assert.All(results, static r =>
        {
            Assert.True(r.GetProperty("throughput").GetDouble() > 0);
            Assert.True(r.GetProperty("transactions").GetInt64() > 0);
            double p50 = r.GetProperty("p50Ms").GetDouble();
            double p99 = r.GetProperty("p99Ms").GetDouble();
            Assert.True(p50 > 0 && p50 <= p99, $"p50 {p50} ms, p99 {p99} ms");
            Assert.InRange(r.GetProperty("connectionsOpened").GetInt64(), 1, r.GetProperty("poolSize").GetInt32());
        });
        Assert.Contains(root.GetProperty("recommendedPoolSize").GetInt32(), sizes);
        Assert.Contains(root.GetProperty("bestPoolSize").GetInt32(), sizes);
        Assert.False(root.GetProperty("canceled").GetBoolean());
    }

    private async Task<long> CountSizeTwoBackendsAsync()
    {
        await using var connection = await fixture.OpenConnectionAsync();
        await using var command = new global::Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'poolkit size % 2'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> CountScratchSchemasAsync()
    {
        await using var connection = await fixture.OpenConnectionAsync();
        await using var command = new global::Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'poolkit\\_size\\_%'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
