using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Samples.Tests;

/// <summary>
/// Runs the sample minimal API (samples/PoolKit.Samples.MinimalApi) in process against the real server, as its
/// appsettings.json configures it except for the connection string and the pool's size.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class SampleAppTests(PostgresServerFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly string _database = "sample_" + Guid.NewGuid().ToString("N")[..12];
    private readonly string _app = "sample_" + Guid.NewGuid().ToString("N")[..8];

    private sealed record TodoDto(int Id, string Title, bool Done);

    private sealed record CountDto(long Count);

    private sealed record PoolDto(int Idle, int Leased, int MaxSize, long TotalCreated, long TotalDestroyed, long ClosedByCaller);

    public async Task InitializeAsync()
    {
        await using NpgsqlConnection admin = await fixture.OpenConnectionAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {_database}", admin);
        await create.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        await using NpgsqlConnection admin = await fixture.OpenConnectionAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    private WebApplicationFactory<Program> Factory(string? password = null, int maxSize = 3, bool createSchema = true)
    {
        var settings = new NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(_app)) { Database = _database };
        if (password is not null)
        {
            settings.Password = password;
        }

        return new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.ConfigureAppConfiguration((_, c) => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:default"] = settings.ConnectionString,
            ["PoolKit:default:Pool:MaxSize"] = maxSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PoolKit:default:StartupTimeout"] = "00:00:05",
            ["Sample:CreateSchema"] = createSchema ? "true" : "false",
        })));
    }

    [Fact]
    public async Task Health_DapperAndEfCoreEndpoints_WorkOnOnePoolWithinMaxSize()
    {
        await using WebApplicationFactory<Program> factory = Factory(maxSize: 3);
        using HttpClient client = factory.CreateClient();

        HttpResponseMessage health = await client.GetAsync(new Uri("/health", UriKind.Relative)).WaitAsync(Limit);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync());

        // MinSize 2 from appsettings.json: warmed up at start.
        Assert.True(await fixture.Server.CountBackendsAsync(_app) >= 2);

        int maxSeen = 0;
        using var done = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                maxSeen = Math.Max(maxSeen, await fixture.Server.CountBackendsAsync(_app));
                await Task.Delay(5);
            }
        });
        Task[] requests = Enumerable.Range(0, 40).Select(async i =>
        {
            HttpResponseMessage created = await client.PostAsJsonAsync(new Uri("/ef/todos", UriKind.Relative), new TodoDto(0, $"todo {i}", i % 2 == 0));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            CountDto? count = await client.GetFromJsonAsync<CountDto>(new Uri("/dapper/todos/count", UriKind.Relative));
            Assert.True(count!.Count >= 1);
        }).ToArray();
        await Task.WhenAll(requests).WaitAsync(Limit);
        done.Cancel();
        await sampler.WaitAsync(Limit);

        List<TodoDto>? todos = await client.GetFromJsonAsync<List<TodoDto>>(new Uri("/ef/todos", UriKind.Relative));
        Assert.Equal(40, todos!.Count);
        Assert.Equal(40, (await client.GetFromJsonAsync<CountDto>(new Uri("/dapper/todos/count", UriKind.Relative)))!.Count);

        PoolDto? pool = await client.GetFromJsonAsync<PoolDto>(new Uri("/pool", UriKind.Relative));
        Assert.Equal(3, pool!.MaxSize);
        Assert.InRange(maxSeen, 2, 3);
        Assert.True(pool.TotalCreated <= 3, $"created {pool.TotalCreated}");
        Assert.Equal(0, pool.TotalDestroyed);
        Assert.Equal(0, pool.ClosedByCaller);
    }

    [Fact]
    public async Task WrongPassword_TheAppFailsToStart_InsteadOfFailingItsFirstUser()
    {
        // No schema creation at startup: the pool's StartupTimeout wait is what fails the start.
        await using WebApplicationFactory<Program> factory = Factory(password: "wrong-password", createSchema: false);
        var error = await Assert.ThrowsAsync<PostgresException>(() => Task.Run(() => factory.CreateClient()).WaitAsync(Limit));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, error.SqlState);
    }
}
