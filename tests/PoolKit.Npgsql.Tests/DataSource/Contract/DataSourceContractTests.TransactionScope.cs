using System.Data.Common;
using System.Transactions;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

// System.Transactions: Npgsql enlists a connection opened inside a scope (a local transaction); PoolKit refuses the open
// (Difference_OpenInsideTransactionScopeThrows). Neither ever commits what the scope rolls back.
public abstract partial class DataSourceContractTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task TransactionScope_OpenedInside_CompletedCommitsNotCompletedRollsBack(bool warm, bool complete)
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        if (warm)
        {
            await using DbConnection warmUp = await dataSource.OpenConnectionAsync();
        }

        using (var scope = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            DbConnection connection = dataSource.CreateConnection();
            if (Difference_OpenInsideTransactionScopeThrows)
            {
                NotSupportedException refused = await Assert.ThrowsAsync<NotSupportedException>(() => connection.OpenAsync());
                Assert.Contains("TransactionScope", refused.Message, StringComparison.Ordinal);
                Assert.Equal(System.Data.ConnectionState.Closed, connection.State);
            }
            else
            {
                await connection.OpenAsync();
                Execute(connection, $"INSERT INTO {table} VALUES (1)");
                await connection.DisposeAsync();
            }

            if (complete)
            {
                scope.Complete();
            }
        }

        long expected = complete && !Difference_OpenInsideTransactionScopeThrows ? 1 : 0;
        Assert.Equal(expected, await CountRowsAsync());

        // The session is usable afterwards, in autocommit.
        await using DbConnection after = await dataSource.OpenConnectionAsync();
        Execute(after, $"INSERT INTO {table} VALUES (2)");
        Assert.Equal(expected + 1, await CountRowsAsync());
    }

    [Fact]
    public async Task TransactionScope_Nested_InnerCompletedOuterNot_RollsBackBoth()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        if (Difference_OpenInsideTransactionScopeThrows)
        {
            using var scope = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled);
            using var inner = new TransactionScope(TransactionScopeOption.Required, TransactionScopeAsyncFlowOption.Enabled);
            await Assert.ThrowsAsync<NotSupportedException>(() => dataSource.OpenConnectionAsync().AsTask());
            return;
        }

        using (var outer = new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            using (var inner = new TransactionScope(TransactionScopeOption.Required, TransactionScopeAsyncFlowOption.Enabled))
            {
                await using DbConnection connection = await dataSource.OpenConnectionAsync();
                Execute(connection, $"INSERT INTO {table} VALUES (1)");
                inner.Complete();
            }
        }

        Assert.Equal(0L, await CountRowsAsync());
    }

    [Fact]
    public async Task TransactionScope_ConnectionOpenedBeforeTheScope_IsNotEnlisted()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        using (new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            Execute(connection, $"INSERT INTO {table} VALUES (1)");
        }

        Assert.Equal(1L, await CountRowsAsync());
    }

    [Fact]
    public async Task TransactionScope_EnlistFalse_OpenInsideRunsInAutocommit()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource(extraSettings: "Enlist=false");
        using (new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            Execute(connection, $"INSERT INTO {table} VALUES (1)");
        }

        Assert.Equal(1L, await CountRowsAsync());
    }

    [Fact]
    public async Task TransactionScope_Suppressed_OpenInsideRunsInAutocommit()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        using (new TransactionScope(TransactionScopeAsyncFlowOption.Enabled))
        using (new TransactionScope(TransactionScopeOption.Suppress, TransactionScopeAsyncFlowOption.Enabled))
        {
            await using DbConnection connection = await dataSource.OpenConnectionAsync();
            Execute(connection, $"INSERT INTO {table} VALUES (1)");
        }

        Assert.Equal(1L, await CountRowsAsync());
    }

    [Fact]
    public async Task EnlistTransaction_Explicit_RollsBackWithTheTransactionOrIsRefused()
    {
        string table = await TableAsync();
        DbDataSource dataSource = CreateDataSource();
        await using DbConnection connection = await dataSource.OpenConnectionAsync();
        using (var transaction = new CommittableTransaction())
        {
            if (Difference_OpenInsideTransactionScopeThrows)
            {
                Assert.Throws<NotSupportedException>(() => connection.EnlistTransaction(transaction));
            }
            else
            {
                connection.EnlistTransaction(transaction);
            }

            Execute(connection, $"INSERT INTO {table} VALUES (1)");
            transaction.Rollback();
        }

        Assert.Equal(Difference_OpenInsideTransactionScopeThrows ? 1L : 0L, await CountRowsAsync());
    }
}
