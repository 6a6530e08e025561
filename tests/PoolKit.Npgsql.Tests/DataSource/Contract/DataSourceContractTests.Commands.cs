using System.Data;
using System.Data.Common;
using Npgsql;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

// Commands and batches: DbBatch on the connection and the data source, timeouts, cancellation and errors.
public abstract partial class DataSourceContractTests
{
    [Fact]
    public async Task Batch_OnTheConnection_RunsEveryCommandInOneRoundTrip()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        Assert.True(connection.CanCreateBatch);

        await using DbBatch batch = connection.CreateBatch();
        Assert.Same(connection, batch.Connection);
        foreach (string sql in new[] { $"INSERT INTO {table} VALUES (1)", $"INSERT INTO {table} VALUES (2)", "SELECT 42" })
        {
            DbBatchCommand command = batch.CreateBatchCommand();
            command.CommandText = sql;
            batch.BatchCommands.Add(command);
        }

        await using (DbDataReader reader = await batch.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(42, reader.GetInt32(0));
        }

        Assert.Equal(1, batch.BatchCommands[0].RecordsAffected);
        Assert.Equal(2L, await CountRowsAsync());

        await using DbTransaction transaction = await connection.BeginTransactionAsync();
        batch.Transaction = transaction;
        batch.BatchCommands.RemoveAt(2);
        Assert.Equal(2, await batch.ExecuteNonQueryAsync());
        await transaction.RollbackAsync();
        Assert.Equal(2L, await CountRowsAsync());
    }

    [Fact]
    public async Task Batch_WithParametersAndPrepare_RunsAgainOnTheNextOpen()
    {
        DbDataSource dataSource = CreateDataSource();
        for (int open = 0; open < 2; open++)
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            await using DbBatch batch = connection.CreateBatch();
            DbBatchCommand command = batch.CreateBatchCommand();
            command.CommandText = "SELECT $1::int * 2";
            command.Parameters.Add(new NpgsqlParameter { Value = open + 1 });
            batch.BatchCommands.Add(command);
            await batch.PrepareAsync();
            Assert.Equal((open + 1) * 2, await batch.ExecuteScalarAsync());
        }
    }

    [Fact]
    public async Task Batch_FromTheDataSource_RunsAndGivesTheConnectionBack()
    {
        DbDataSource dataSource = CreateDataSource();

        // With one connection at most, a batch that kept its connection would make the next one wait for ever.
        for (int i = 0; i < 3; i++)
        {
            await using DbBatch batch = dataSource.CreateBatch();
            DbBatchCommand first = batch.CreateBatchCommand();
            first.CommandText = "SELECT 1";
            batch.BatchCommands.Add(first);
            DbBatchCommand second = batch.CreateBatchCommand();
            second.CommandText = "SELECT 2";
            batch.BatchCommands.Add(second);
            Assert.Equal(1, await batch.ExecuteScalarAsync().WaitAsync(TestSupport.Limit));
        }

        await using (DbBatch reading = dataSource.CreateBatch())
        {
            DbBatchCommand command = reading.CreateBatchCommand();
            command.CommandText = "SELECT generate_series(1, 3)";
            reading.BatchCommands.Add(command);
            await using DbDataReader reader = await reading.ExecuteReaderAsync();
            int rows = 0;
            while (await reader.ReadAsync())
            {
                rows++;
            }

            Assert.Equal(3, rows);
        }

        await using DbCommand plain = dataSource.CreateCommand("SELECT 3");
        Assert.Equal(3, await plain.ExecuteScalarAsync().WaitAsync(TestSupport.Limit));
    }

    [Fact]
    public async Task CommandTimeout_Expires_NpgsqlExceptionWithTimeout_AndTheConnectionStaysUsable()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT pg_sleep(10)";
        command.CommandTimeout = 1;

        NpgsqlException timedOut = await Assert.ThrowsAsync<NpgsqlException>(() => command.ExecuteScalarAsync());
        Assert.IsType<TimeoutException>(timedOut.InnerException);
        Assert.True(timedOut.IsTransient);
        Assert.Equal(ConnectionState.Open, connection.State);
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
    }

    [Fact]
    public async Task Cancellation_OfARunningCommand_ThrowsOperationCanceled_AndTheConnectionStaysUsable()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ScalarAsync(connection, "SELECT pg_sleep(10)", cancellationToken: cancel.Token));
        Assert.Equal(ConnectionState.Open, connection.State);
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
    }

    [Fact]
    public async Task Command_Cancel_FromAnotherThread_EndsTheCommand()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT pg_sleep(10)";
        Task<object?> running = command.ExecuteScalarAsync();
        await Task.Delay(300);
        command.Cancel();

        OperationCanceledException canceled = await Assert.ThrowsAsync<OperationCanceledException>(() => running.WaitAsync(TestSupport.Limit));
        Assert.Equal(PostgresErrorCodes.QueryCanceled, Assert.IsType<PostgresException>(canceled.InnerException).SqlState);
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
    }

    [Theory]
    [InlineData("SELECT 1/0", PostgresErrorCodes.DivisionByZero)]
    [InlineData("SELECT * FROM contract_missing_table", PostgresErrorCodes.UndefinedTable)]
    [InlineData("SELEC 1", PostgresErrorCodes.SyntaxError)]
    public async Task ServerError_IsPostgresExceptionWithSqlState_NotTransient_AndTheConnectionStaysUsable(string sql, string sqlState)
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();

        PostgresException error = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(connection, sql));
        Assert.Equal(sqlState, error.SqlState);
        Assert.False(error.IsTransient);
        Assert.Equal(ConnectionState.Open, connection.State);
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
    }

    [Fact]
    public async Task SessionTerminated_IsPostgresException57P01AndTransient()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await Fixture.Server.TerminateBackendsAsync(App);

        PostgresException error = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(connection, "SELECT 1"));
        Assert.Equal(PostgresErrorCodes.AdminShutdown, error.SqlState);
        Assert.True(error.IsTransient);
    }

    [Fact]
    public async Task DataSourceCommand_RunsOnItsOwnConnection()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbCommand command = dataSource.CreateCommand("SELECT 5");
        Assert.Equal(5, await command.ExecuteScalarAsync());
        Assert.Equal(5, command.ExecuteScalar());
        await using DbDataReader reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
    }
}
