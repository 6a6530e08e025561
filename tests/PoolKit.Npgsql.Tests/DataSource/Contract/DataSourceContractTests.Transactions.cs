using System.Data;
using System.Data.Common;
using Npgsql;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

// DbTransaction: commit, rollback, isolation levels, savepoints, and what a transaction does after its connection closed.
public abstract partial class DataSourceContractTests
{
    [Fact]
    public async Task Transaction_CommitAndRollback_AndItsConnectionIsTheOneThatBeganIt()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();

        await using (DbTransaction committed = await connection.BeginTransactionAsync())
        {
            Assert.Same(connection, committed.Connection);
            Execute(connection, $"INSERT INTO {table} VALUES (1)", committed);
            await committed.CommitAsync();
        }

        await using (DbTransaction rolledBack = await connection.BeginTransactionAsync())
        {
            Execute(connection, $"INSERT INTO {table} VALUES (2)", rolledBack);
            await rolledBack.RollbackAsync();
        }

        using (DbTransaction disposed = connection.BeginTransaction())
        {
            Execute(connection, $"INSERT INTO {table} VALUES (3)", disposed);
        }

        Assert.Equal(1L, await CountRowsAsync());
        Assert.Throws<InvalidOperationException>(() =>
        {
            using DbTransaction first = connection.BeginTransaction();
            using DbTransaction second = connection.BeginTransaction();
        });
    }

    [Theory]
    [InlineData(IsolationLevel.Unspecified, "read committed")]
    [InlineData(IsolationLevel.ReadUncommitted, "read uncommitted")]
    [InlineData(IsolationLevel.ReadCommitted, "read committed")]
    [InlineData(IsolationLevel.RepeatableRead, "repeatable read")]
    [InlineData(IsolationLevel.Serializable, "serializable")]
    public async Task Transaction_IsolationLevel_IsWhatTheServerRuns(IsolationLevel level, string server)
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await using DbTransaction transaction = await connection.BeginTransactionAsync(level);

        Assert.Equal(level == IsolationLevel.Unspecified ? IsolationLevel.ReadCommitted : level, transaction.IsolationLevel);
        Assert.Equal(server, await ScalarAsync(connection, "SHOW transaction_isolation", transaction));
    }

    [Fact]
    public async Task Transaction_Savepoints_RollBackAndReleasePartOfTheWork()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await using DbTransaction transaction = await connection.BeginTransactionAsync();
        Assert.True(transaction.SupportsSavepoints);

        Execute(connection, $"INSERT INTO {table} VALUES (1)", transaction);
        await transaction.SaveAsync("a");
        Execute(connection, $"INSERT INTO {table} VALUES (2)", transaction);
        await transaction.RollbackAsync("a");
        transaction.Save("b");
        Execute(connection, $"INSERT INTO {table} VALUES (3)", transaction);
        transaction.Release("b");
        await transaction.CommitAsync();

        Assert.Equal(2L, await CountRowsAsync());
    }

    [Fact]
    public async Task Close_WithOpenTransaction_RollsItBack()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = await dataSource.OpenConnectionAsync();
        DbTransaction transaction = await connection.BeginTransactionAsync();
        Execute(connection, $"INSERT INTO {table} VALUES (1)", transaction);

        await connection.CloseAsync();

        Assert.Equal(0L, await CountRowsAsync());
        await using DbConnection next = await dataSource.OpenConnectionAsync();
        Execute(next, $"INSERT INTO {table} VALUES (2)");
        Assert.Equal(1L, await CountRowsAsync());
    }

    [Fact]
    public async Task Close_WithOpenTransaction_AfterTheSessionWasTerminated_ClosesAndTheNextOpenWorks()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = await dataSource.OpenConnectionAsync();
        DbTransaction transaction = await connection.BeginTransactionAsync();
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1", transaction));
        await Fixture.Server.TerminateBackendsAsync(App);

        // Npgsql has not read anything since: it still believes the transaction open, and Close must roll it back.
        Exception? closing = await Record.ExceptionAsync(() => connection.CloseAsync());
        if (Difference_CloseAfterSessionDiedDoesNotThrow)
        {
            Assert.Null(closing);
        }
        else
        {
            Assert.Equal(PostgresErrorCodes.AdminShutdown, Assert.IsType<PostgresException>(closing).SqlState);
        }

        Assert.Equal(System.Data.ConnectionState.Closed, connection.State);
        await transaction.DisposeAsync();

        await using DbConnection next = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await ScalarAsync(next, "SELECT 1"));
    }

    [Fact]
    public async Task LateDispose_OfAClosedConnectionsTransaction_DoesNotTouchTheNextUsersTransaction()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        DbConnection first = await dataSource.OpenConnectionAsync();
        DbTransaction firstTransaction = await first.BeginTransactionAsync();
        await first.CloseAsync();

        // Same server session (one connection at most), next user's transaction.
        await using DbConnection second = await dataSource.OpenConnectionAsync();
        await using DbTransaction secondTransaction = await second.BeginTransactionAsync();
        Execute(second, $"INSERT INTO {table} VALUES (1)", secondTransaction);

        firstTransaction.Dispose();
        await firstTransaction.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(firstTransaction.Rollback);
        Assert.Throws<ObjectDisposedException>(firstTransaction.Commit);

        await secondTransaction.CommitAsync();
        Assert.Equal(1L, await CountRowsAsync());
    }

    [Fact]
    public async Task Transaction_AfterItsConnectionClosed_CommitThrowsAndConnectionIsNull()
    {
        DbDataSource dataSource = CreateDataSource();
        DbConnection connection = await dataSource.OpenConnectionAsync();
        DbTransaction transaction = await connection.BeginTransactionAsync();
        await connection.CloseAsync();

        Assert.Null(transaction.Connection);
        await Assert.ThrowsAsync<InvalidOperationException>(() => transaction.CommitAsync());
        await Assert.ThrowsAsync<InvalidOperationException>(() => transaction.RollbackAsync());
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task Transaction_CommandWithoutTheTransaction_StillRunsInIt()
    {
        // Npgsql does not check Command.Transaction: a command on a connection with an open transaction runs in it.
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await using (DbTransaction transaction = await connection.BeginTransactionAsync())
        {
            Execute(connection, $"INSERT INTO {table} VALUES (1)");
            await transaction.RollbackAsync();
        }

        Assert.Equal(0L, await CountRowsAsync());
    }

    [Fact]
    public async Task FailedStatementInTransaction_IsPostgresException25P02_UntilRolledBack()
    {
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        await using DbTransaction transaction = await connection.BeginTransactionAsync();
        await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(connection, "SELECT 1/0", transaction));
        PostgresException aborted = await Assert.ThrowsAsync<PostgresException>(() => ScalarAsync(connection, "SELECT 1", transaction));
        Assert.Equal(PostgresErrorCodes.InFailedSqlTransaction, aborted.SqlState);

        await transaction.RollbackAsync();
        Assert.Equal(1, await ScalarAsync(connection, "SELECT 1"));
    }
}
