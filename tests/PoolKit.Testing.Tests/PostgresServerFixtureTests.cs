using Npgsql;

namespace PoolKit.Testing.Tests;

/// <summary>The shipped xUnit fixture (PoolKit.Testing.Xunit) on its own: options from a derived class, full lifecycle.</summary>
public sealed class PostgresServerFixtureTests
{
    [Fact]
    public async Task Fixture_DerivedOptions_StartsThatServerAndRemovesItOnDispose()
    {
        SmallLocalFixture fixture = new();
        Assert.Throws<InvalidOperationException>(() => fixture.Server); // not initialized yet

        await fixture.InitializeAsync().WaitAsync(TestServers.ScenarioLimit);
        string root;
        try
        {
            root = Path.GetDirectoryName(fixture.Server.DataDirectory!)!;
            Assert.Equal(PostgresServerSource.LocalCluster, fixture.Server.Source);
            await using NpgsqlConnection connection = await fixture.OpenConnectionAsync("fixture-test");
            await using NpgsqlCommand command = new("SELECT current_setting('max_connections')", connection);
            Assert.Equal("23", await command.ExecuteScalarAsync());
            Assert.Equal(1, await fixture.Server.CountBackendsAsync("fixture-test"));

            await using TestDatabase database = await fixture.CreateDatabaseAsync();
            Assert.Equal(database.Name, new NpgsqlConnectionStringBuilder(database.ConnectionString).Database);
        }
        finally
        {
            await fixture.DisposeAsync();
        }

        Assert.False(Directory.Exists(root), $"{root} still exists");
    }

    private sealed class SmallLocalFixture : Xunit.PostgresServerFixture
    {
        protected override PostgresTestServerOptions CreateOptions() => TestServers.LocalOnly(maxConnections: 23);
    }
}
