using System.Data.Common;
using PoolKit.Testing;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

// Nothing of one open reaches the next user of the same server session: handlers, settings, the database; while what
// Npgsql keeps on purpose (prepared statements) is kept.
public abstract partial class DataSourceContractTests
{
    [Fact]
    public async Task NoticeHandler_AddedDuringOneOpen_DoesNotReceiveTheNextUsersNotices()
    {
        DbDataSource dataSource = CreateDataSource();
        var seen = new List<string>();
        await using (DbConnection first = await dataSource.OpenConnectionAsync())
        {
            Npgsql(first).Notice += (_, e) => seen.Add(e.Notice.MessageText);
            Execute(first, "DO $$BEGIN RAISE NOTICE 'first user'; END$$");
        }

        await using (DbConnection second = await dataSource.OpenConnectionAsync())
        {
            var secondSeen = new List<string>();
            Npgsql(second).Notice += (_, e) => secondSeen.Add(e.Notice.MessageText);
            Execute(second, "DO $$BEGIN RAISE NOTICE 'second user secret'; END$$");
            Assert.Equal(["second user secret"], secondSeen);
        }

        Assert.Equal(["first user"], seen);
    }

    [Fact]
    public async Task NotificationHandler_AddedDuringOneOpen_DoesNotReceiveTheNextUsersNotifications()
    {
        DbDataSource dataSource = CreateDataSource();
        var seen = new List<string>();
        await using (DbConnection first = await dataSource.OpenConnectionAsync())
        {
            Npgsql(first).Notification += (_, e) => seen.Add(e.Payload);
            Execute(first, "LISTEN contract; NOTIFY contract, 'first user'");
            Execute(first, "SELECT 1");
        }

        await using (DbConnection second = await dataSource.OpenConnectionAsync())
        {
            var secondSeen = new List<string>();
            Npgsql(second).Notification += (_, e) => secondSeen.Add(e.Payload);
            Execute(second, "LISTEN contract; NOTIFY contract, 'second user secret'");
            Execute(second, "SELECT 1");
            Assert.Equal(["second user secret"], secondSeen);
        }

        Assert.Equal(["first user"], seen);
    }

    [Fact]
    public async Task SessionSettings_OfOneOpen_AreResetForTheNext()
    {
        DbDataSource dataSource = CreateDataSource();
        string initial;
        int pid;
        await using (DbConnection first = await dataSource.OpenConnectionAsync())
        {
            pid = Pid(first);
            initial = (string)Scalar(first, "SHOW work_mem")!;
            Execute(first, "SET work_mem = '7MB'; CREATE TEMP TABLE contract_temp (v int)");
        }

        await using DbConnection second = await dataSource.OpenConnectionAsync();
        Assert.Equal(pid, Pid(second));
        Assert.Equal(initial, Scalar(second, "SHOW work_mem"));
        Assert.Equal(0L, Scalar(second, "SELECT count(*) FROM pg_class WHERE relname = 'contract_temp' AND relpersistence = 't'"));
    }

    [Fact]
    public async Task ChangeDatabase_OnTheConnection_IsNpgsqlsOrNotSupported()
    {
        // Not template1: CREATE DATABASE elsewhere in the run fails while anyone is connected to it.
        await using TestDatabase other = await Fixture.Server.CreateDatabaseAsync();
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        if (Difference_ChangeDatabaseNotSupported)
        {
            Assert.Throws<NotSupportedException>(() => connection.ChangeDatabase(other.Name));
            return;
        }

        connection.ChangeDatabase(other.Name);
        Assert.Equal(other.Name, connection.Database);
        Assert.Equal(other.Name, Scalar(connection, "SELECT current_database()"));
    }

    [Fact]
    public async Task ChangeDatabase_OnTheNpgsqlConnection_DoesNotReachTheNextOpen()
    {
        await using TestDatabase other = await Fixture.Server.CreateDatabaseAsync();
        DbDataSource dataSource = CreateDataSource();
        string database = Fixture.Server.CreateConnectionStringBuilder().Database!;
        await using (DbConnection first = await dataSource.OpenConnectionAsync())
        {
            Npgsql(first).ChangeDatabase(other.Name);
            Assert.Equal(other.Name, Scalar(first, "SELECT current_database()"));
        }

        await using DbConnection second = await dataSource.OpenConnectionAsync();
        Assert.Equal(database, Scalar(second, "SELECT current_database()"));
        Assert.Equal(database, second.Database);
    }

    [Fact]
    public async Task Prepare_ThenTheSameStatementOnTheNextOpen_Runs()
    {
        DbDataSource dataSource = CreateDataSource();
        for (int open = 0; open < 3; open++)
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            await using DbCommand command = connection.CreateCommand();
            command.CommandText = "SELECT $1::int + 1";
            DbParameter parameter = command.CreateParameter();
            parameter.Value = open;
            command.Parameters.Add(parameter);
            await command.PrepareAsync();
            Assert.Equal(open + 1, await command.ExecuteScalarAsync());

            // Npgsql keeps prepared statements across opens of a pooled session; so must the reset.
            Assert.Equal(1L, Scalar(connection, "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int + 1%'"));
        }
    }

    [Fact]
    public async Task ReloadTypes_ThenAnEnumCreatedSinceIsReadOnTheSameOpen()
    {
        DbDataSource dataSource = CreateDataSource();
        string type = "contract_mood_" + Guid.NewGuid().ToString("N")[..8];
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        Execute(connection, $"CREATE TYPE {type} AS ENUM ('happy', 'sad')");
        try
        {
            await Npgsql(connection).ReloadTypesAsync();
            Assert.Equal("happy", Scalar(connection, $"SELECT 'happy'::{type}"));
        }
        finally
        {
            Execute(connection, $"DROP TYPE {type}");
        }
    }

    [Fact]
    public async Task ReloadTypes_OnOneConnection_ReachesTheDataSourcesOtherConnections()
    {
        DbDataSource dataSource = CreateDataSource(maxSize: 2);
        string type = "contract_mood_" + Guid.NewGuid().ToString("N")[..8];
        await using (DbConnection warmA = await dataSource.OpenConnectionAsync())
        await using (DbConnection warmB = await dataSource.OpenConnectionAsync())
        {
            Assert.NotEqual(Pid(warmA), Pid(warmB));
        }

        try
        {
            await using (DbConnection connection = await dataSource.OpenConnectionAsync())
            {
                Execute(connection, $"CREATE TYPE {type} AS ENUM ('happy', 'sad')");
                await ReloadTypesAsync(connection);
            }

            await using DbConnection first = await dataSource.OpenConnectionAsync();
            await using DbConnection second = await dataSource.OpenConnectionAsync();
            Assert.Equal("happy", Scalar(first, $"SELECT 'happy'::{type}"));
            Assert.Equal("sad", Scalar(second, $"SELECT 'sad'::{type}"));
        }
        finally
        {
            await using DbConnection cleanup = await dataSource.OpenConnectionAsync();
            Execute(cleanup, $"DROP TYPE IF EXISTS {type}");
        }
    }
}
