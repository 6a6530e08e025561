using System.Data.Common;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using NodaTime;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.DependencyInjection;

/// <summary>
/// A typed app (enum, composite, JSON, NodaTime, a periodic password provider, logging) registered through DI on a
/// PoolKit pool whose data source is configured on <see cref="NpgsqlDataSourceBuilder"/> (issue 18, item 4).
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class TypedAppTests(PostgresServerFixture fixture)
{
    private const string Types = """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'poolkit_mood') THEN
                CREATE TYPE poolkit_mood AS ENUM ('sad', 'ok', 'happy');
            END IF;
            IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'poolkit_address') THEN
                CREATE TYPE poolkit_address AS (street text, number int);
            END IF;
        END $$;
        """;

    public enum Mood
    {
        Sad,
        Ok,
        Happy,
    }

    [Fact]
    public async Task AddNpgsqlConnectionPool_WithDataSourceBuilder_TypedAppWorksThroughDi()
    {
        await CreateTypesAsync();
        string app = AppName();
        var server = new NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(app));
        string password = server.Password!;
        server.Password = null; // only the provider knows it: a connection that opens proves the provider is used
        IConfiguration config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Pools:typed:ConnectionString"] = server.ConnectionString,
            ["Pools:typed:Pool:MaxSize"] = "2",
        }).Build();

        int passwordCalls = 0;
        bool sslCallbackConfigured = false;
        var logs = new FakeLogCollector();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Debug).AddProvider(new FakeLoggerProvider(logs)));
        services.AddNpgsqlConnectionPool("typed", config.GetSection("Pools:typed"), builder =>
        {
            builder.MapEnum<Mood>("poolkit_mood");
            builder.MapComposite<Address>("poolkit_address");
            builder.EnableDynamicJson();
            builder.ConfigureJsonOptions(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower });
            builder.UseNodaTime();
            builder.UsePeriodicPasswordProvider(
                (_, _) =>
                {
                    Interlocked.Increment(ref passwordCalls);
                    return ValueTask.FromResult(password);
                },
                TimeSpan.FromMinutes(10),
                TimeSpan.FromSeconds(1));
            builder.UseSslClientAuthenticationOptionsCallback(_ => { });
            sslCallbackConfigured = true;
        });
        services.AddSingleton(sp => new MoodJournal(sp.GetRequiredKeyedService<DbDataSource>("typed")));

        await using ServiceProvider sp = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        MoodJournal journal = sp.GetRequiredService<MoodJournal>();
        await journal.CreateTableAsync(app);

        var when = Instant.FromUtc(2026, 12, 7, 23, 0, 0);
        var entries = new[]
        {
            new Entry(Mood.Happy, new Address { Street = "Main", Number = 1 }, new Preferences("dark", 14), when),
            new Entry(Mood.Sad, new Address { Street = "Side", Number = 22 }, new Preferences("light", 11), when.Plus(Duration.FromHours(1))),
            new Entry(Mood.Ok, new Address { Street = "Back", Number = 333 }, new Preferences("auto", 12), when.Plus(Duration.FromDays(1))),
        };

        // More entries than connections: the types survive the reset between leases.
        foreach (Entry entry in entries)
        {
            await journal.AddAsync(app, entry).WaitAsync(Limit);
        }

        IReadOnlyList<Entry> read = await journal.ReadAllAsync(app).WaitAsync(Limit);
        Assert.Equal(entries.Length, read.Count);
        for (int i = 0; i < entries.Length; i++)
        {
            Assert.Equal(entries[i].Mood, read[i].Mood);
            Assert.Equal(entries[i].Address.Street, read[i].Address.Street);
            Assert.Equal(entries[i].Address.Number, read[i].Address.Number);
            Assert.Equal(entries[i].Preferences, read[i].Preferences);
            Assert.Equal(entries[i].At, read[i].At);
        }

        // The JSON options reached the server's view of the column (snake_case names).
        Assert.Equal(14, await journal.ScalarAsync<int>($"SELECT (prefs->>'font_size')::int FROM {app} WHERE mood = 'happy'"));

        NpgsqlConnectionPool pool = sp.GetRequiredKeyedService<NpgsqlConnectionPool>("typed");
        Assert.InRange(pool.GetStatistics().TotalCreated, 1, 2);
        Assert.True(Volatile.Read(ref passwordCalls) >= 1, "the periodic password provider was called");
        Assert.True(sslCallbackConfigured);

        // Npgsql logs through the container's logger factory (the pool did not replace it).
        Assert.Contains(logs.GetSnapshot(), r => r.Category?.StartsWith("Npgsql", StringComparison.Ordinal) == true);
        await journal.DropTableAsync(app);
    }

    [Fact]
    public async Task PoolKitDataSourceCreate_WithDataSourceBuilder_MapsTheEnum()
    {
        await CreateTypesAsync();
        await using PoolKitDataSource dataSource = PoolKitDataSource.Create(
            fixture.Server.GetConnectionString(AppName()),
            builder => builder.MapEnum<Mood>("poolkit_mood"),
            new ConnectionPoolOptions { MaxSize = 1 });

        for (int i = 0; i < 3; i++)
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = "SELECT 'happy'::poolkit_mood";
            Assert.Equal(Mood.Happy, await command.ExecuteScalarAsync());
        }
    }

    private async Task CreateTypesAsync()
    {
        await using NpgsqlConnection admin = await fixture.OpenConnectionAsync();
        try
        {
            await ScalarAsync(admin, Types);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.DuplicateObject)
        {
            // Another test created them at the same moment.
        }
    }

    public sealed class Address
    {
        public string Street { get; set; } = "";

        public int Number { get; set; }
    }

    public sealed record Preferences(string Theme, int FontSize);

    public sealed record Entry(Mood Mood, Address Address, Preferences Preferences, Instant At);

    /// <summary>The app's repository: plain ADO.NET on the <see cref="DbDataSource"/> it was given.</summary>
    private sealed class MoodJournal(DbDataSource dataSource)
    {
        public Task CreateTableAsync(string table) =>
            ExecuteAsync($"CREATE TABLE {table} (id serial PRIMARY KEY, mood poolkit_mood, address poolkit_address, prefs jsonb, at timestamptz)");

        public Task DropTableAsync(string table) => ExecuteAsync($"DROP TABLE {table}");

        public async Task AddAsync(string table, Entry entry)
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = $"INSERT INTO {table} (mood, address, prefs, at) VALUES ($1, $2, $3, $4)";
            command.Parameters.Add(new NpgsqlParameter { Value = entry.Mood });
            command.Parameters.Add(new NpgsqlParameter { Value = entry.Address });
            command.Parameters.Add(new NpgsqlParameter { Value = entry.Preferences, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Jsonb });
            command.Parameters.Add(new NpgsqlParameter { Value = entry.At });
            await command.ExecuteNonQueryAsync();
        }

        public async Task<IReadOnlyList<Entry>> ReadAllAsync(string table)
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = $"SELECT mood, address, prefs, at FROM {table} ORDER BY id";
            await using DbDataReader reader = await command.ExecuteReaderAsync();
            var entries = new List<Entry>();
            while (await reader.ReadAsync())
            {
                entries.Add(new Entry(reader.GetFieldValue<Mood>(0), reader.GetFieldValue<Address>(1), reader.GetFieldValue<Preferences>(2), reader.GetFieldValue<Instant>(3)));
            }

            return entries;
        }

        public async Task<T> ScalarAsync<T>(string sql)
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = sql;
            return (T)(await command.ExecuteScalarAsync())!;
        }

        private async Task ExecuteAsync(string sql)
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
        }
    }
}
