using System.Data;
using System.Data.Common;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

// The connection's state machine: Open/Closed, StateChange, open/close/dispose in every order, a dead session.
public abstract partial class DataSourceContractTests
{
    [Fact]
    public void OpenClose_RaisesStateChangeOpenThenClosed()
    {
        DbDataSource dataSource = CreateDataSource();
        using DbConnection connection = dataSource.CreateConnection();
        var events = new List<(ConnectionState From, ConnectionState To)>();
        connection.StateChange += (_, e) => events.Add((e.OriginalState, e.CurrentState));

        Assert.Equal(ConnectionState.Closed, connection.State);
        connection.Open();
        Assert.Equal(ConnectionState.Open, connection.State);
        connection.Close();
        Assert.Equal(ConnectionState.Closed, connection.State);
        connection.Close();

        Assert.Equal([(ConnectionState.Closed, ConnectionState.Open), (ConnectionState.Open, ConnectionState.Closed)], events);
    }

    [Fact]
    public async Task Open_WhenAlreadyOpen_ThrowsInvalidOperationException()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();

        Assert.Throws<InvalidOperationException>(connection.Open);
        await Assert.ThrowsAsync<InvalidOperationException>(() => connection.OpenAsync());
        Assert.Equal(1, Scalar(connection, "SELECT 1"));
    }

    [Fact]
    public async Task OpenCloseDispose_EveryOrder_ReusesOneSession()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = dataSource.CreateConnection();
        connection.Open();
        int pid = Pid(connection);
        connection.Close();
        connection.Close();
        await connection.OpenAsync();
        Assert.Equal(pid, Pid(connection));
        await connection.CloseAsync();
        connection.Dispose();
        connection.Dispose();
        await connection.DisposeAsync();
        connection.Close();
        Assert.Equal(ConnectionState.Closed, connection.State);

        // Disposed while open: the session goes back and the next connection gets it.
        DbConnection second = dataSource.OpenConnection();
        await second.DisposeAsync();
        await using DbConnection third = await dataSource.OpenConnectionAsync();
        Assert.Equal(pid, Pid(third));
    }

    [Fact]
    public async Task Open_AfterDispose_ThrowsObjectDisposedException()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = dataSource.OpenConnection();
        await connection.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(connection.Open);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => connection.OpenAsync());
        Assert.Equal(ConnectionState.Closed, connection.State);

        // The session went back: the next connection gets it.
        await using DbConnection next = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, Scalar(next, "SELECT 1"));
    }

    [Fact]
    public async Task State_AfterSessionTerminated_IsClosedOnceACommandFailed_AndTheConnectionReopens()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = await dataSource.OpenConnectionAsync();
        var events = new List<(ConnectionState From, ConnectionState To)>();
        connection.StateChange += (_, e) => events.Add((e.OriginalState, e.CurrentState));
        int pid = Pid(connection);

        Assert.Equal(1, await Fixture.Server.TerminateBackendsAsync(App));
        await Assert.ThrowsAnyAsync<DbException>(() => ScalarAsync(connection, "SELECT 1"));

        // What Dapper and EF Core read to decide to reopen.
        Assert.Equal(ConnectionState.Closed, connection.State);
        await connection.OpenAsync();
        Assert.Equal(ConnectionState.Open, connection.State);
        Assert.NotEqual(pid, Pid(connection));
        await connection.DisposeAsync();
        Assert.Equal(ConnectionState.Closed, connection.State);
        Assert.Equal(ExpectedEventsAfterTermination, events);
    }

    /// <summary>The StateChange events Npgsql raises around a terminated session (then reopened and closed).</summary>
    protected static (ConnectionState From, ConnectionState To)[] ExpectedEventsAfterTermination =>
    [
        (ConnectionState.Open, ConnectionState.Closed),
        (ConnectionState.Closed, ConnectionState.Open),
        (ConnectionState.Open, ConnectionState.Closed),
    ];

    [Fact]
    public async Task Close_WithOpenReader_ClosesTheReader_AndTheSessionIsReused()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = await dataSource.OpenConnectionAsync();
        int pid = Pid(connection);
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT generate_series(1, 100000)";
        DbDataReader reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        bool readerClosed = false;
        ((global::Npgsql.NpgsqlDataReader)reader).ReaderClosed += (_, _) => readerClosed = true;

        await connection.CloseAsync();

        // Not reader.IsClosed: Npgsql reuses its reader object per server session, and a reset running at return
        // (DiscardOnReturn) already reads its own results through it.
        Assert.True(readerClosed);
        Assert.Equal(ConnectionState.Closed, connection.State);
        await connection.OpenAsync();
        Assert.Equal(pid, Pid(connection));
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task Close_DuringBinaryImport_CancelsTheImport()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = await dataSource.OpenConnectionAsync();
        int pid = Pid(connection);
        global::Npgsql.NpgsqlBinaryImporter importer = await Npgsql(connection).BeginBinaryImportAsync($"COPY {table} (v) FROM STDIN (FORMAT BINARY)");
        await importer.StartRowAsync();
        await importer.WriteAsync(1);

        await connection.CloseAsync();

        Assert.Equal(0L, await CountRowsAsync());
        await connection.OpenAsync();
        Assert.Equal(1, Scalar(connection, "SELECT 1"));
        if (Difference_CloseDuringCopyReplacesTheSession)
        {
            Assert.NotEqual(pid, Pid(connection));
        }
        else
        {
            Assert.Equal(pid, Pid(connection));
        }

        await connection.DisposeAsync();
    }

    [Fact]
    public async Task CloseConnectionBehavior_ClosingTheReader_ClosesTheConnection()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await using (DbDataReader reader = await command.ExecuteReaderAsync(CommandBehavior.CloseConnection))
        {
            Assert.True(await reader.ReadAsync());
        }

        Assert.Equal(ConnectionState.Closed, connection.State);
        await using DbConnection next = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, Scalar(next, "SELECT 1"));
    }

    [Fact]
    public async Task CloseConnectionBehavior_OfAnEarlierOpen_DoesNotCloseTheConnectionOnItsNextOpen()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = await dataSource.OpenConnectionAsync();
        await using (DbCommand first = connection.CreateCommand())
        {
            first.CommandText = "SELECT 1";
            await using DbDataReader reader = await first.ExecuteReaderAsync(CommandBehavior.CloseConnection);
            Assert.True(await reader.ReadAsync());
        }

        Assert.Equal(ConnectionState.Closed, connection.State);
        await connection.OpenAsync();
        for (int i = 0; i < 2; i++)
        {
            await using DbCommand next = connection.CreateCommand();
            next.CommandText = "SELECT 2";
            await using DbDataReader reader = await next.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
        }

        Assert.Equal(ConnectionState.Open, connection.State);
        await connection.DisposeAsync();
    }

    [Fact]
    public void ClosedConnection_ServerVersionThrows_DatabaseIsTheConfiguredOne()
    {
        DbDataSource dataSource = CreateDataSource();
        using DbConnection connection = dataSource.CreateConnection();

        Assert.Throws<InvalidOperationException>(() => connection.ServerVersion);
        Assert.Equal(Fixture.Server.CreateConnectionStringBuilder().Database, connection.Database);
        Assert.DoesNotContain("password", dataSource.ConnectionString, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task KeptNpgsqlConnection_AfterClose_ReadsClosedAndThrows_AndTheNextUsersSessionIsUntouched()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection first = await dataSource.OpenConnectionAsync();
        int firstPid = Pid(first);
        string initial = (string)Scalar(first, "SHOW work_mem")!;
        global::Npgsql.NpgsqlConnection kept = Npgsql(first);
        await first.CloseAsync();

        await using DbConnection second = await dataSource.OpenConnectionAsync();
        Assert.Equal(firstPid, Pid(second));
        Assert.Equal(ConnectionState.Closed, kept.State);
        using var command = new global::Npgsql.NpgsqlCommand("SET work_mem = '7MB'", kept);
        Assert.Throws<InvalidOperationException>(() => command.ExecuteNonQuery());
        await Assert.ThrowsAsync<InvalidOperationException>(() => command.ExecuteNonQueryAsync());

        // What the server says: the next user's session never ran the kept reference's command.
        Assert.Equal(initial, Scalar(second, "SHOW work_mem"));
    }

    [Fact]
    public async Task KeptNpgsqlTransactionConnection_AfterClose_ReadsClosedAndThrows_AndTheNextUsersSessionIsUntouched()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection first = await dataSource.OpenConnectionAsync();
        int firstPid = Pid(first);
        string initial = (string)Scalar(first, "SHOW work_mem")!;
        DbTransaction transaction = await first.BeginTransactionAsync();
        global::Npgsql.NpgsqlConnection kept = NpgsqlTransaction(transaction).Connection!;
        await first.CloseAsync();

        await using DbConnection second = await dataSource.OpenConnectionAsync();
        Assert.Equal(firstPid, Pid(second));
        Assert.Equal(ConnectionState.Closed, kept.State);
        using var command = new global::Npgsql.NpgsqlCommand("SET work_mem = '7MB'", kept);
        Assert.Throws<InvalidOperationException>(() => command.ExecuteNonQuery());
        Assert.Equal(initial, Scalar(second, "SHOW work_mem"));
    }

    [Fact]
    public async Task NpgsqlConnection_ReadDuringAnOpen_RunsThatOpensCommandsAndTransaction()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        await using (DbConnection connection = await dataSource.OpenConnectionAsync())
        {
            DbTransaction transaction = await connection.BeginTransactionAsync();
            Execute(connection, $"INSERT INTO {table} VALUES (1)", transaction);

            // Read mid-transaction: the raw connection runs in the same session and transaction.
            global::Npgsql.NpgsqlConnection raw = Npgsql(connection);
            Assert.Equal(ConnectionState.Open, raw.State);
            using (var insert = new global::Npgsql.NpgsqlCommand($"INSERT INTO {table} VALUES (2)", raw))
            {
                insert.ExecuteNonQuery();
            }

            Assert.Same(raw, NpgsqlTransaction(transaction).Connection);
            Assert.Equal(2L, Scalar(connection, $"SELECT count(*) FROM {table}", transaction));
            Assert.Equal(ConnectionState.Open, connection.State);
            await transaction.CommitAsync();
        }

        Assert.Equal(2L, await CountRowsAsync());
        await using DbConnection next = await dataSource.OpenConnectionAsync();
        Assert.Equal(2L, Scalar(next, $"SELECT count(*) FROM {table}"));
    }
}
