using System.Data.Common;
using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

/// <summary>
/// What code can observe through <see cref="DbDataSource"/> and the ADO.NET types it hands out, written once and run
/// against Npgsql's own <see cref="NpgsqlDataSource"/> (the anchor) and against <see cref="PoolKitDataSource"/> on the
/// same server. Every test passes against the anchor; where PoolKit deliberately differs, the test reads a
/// <c>Difference_...</c> property that only the PoolKit subclasses override, and the README lists the difference with
/// its reason. A new difference therefore fails the suite.
/// </summary>
/// <remarks>
/// Data sources are built with at most one connection where a test needs the next open to reuse the same server
/// session (the case where one user's leftovers could reach the next).
/// </remarks>
public abstract partial class DataSourceContractTests(PostgresServerFixture fixture) : IAsyncLifetime
{
    private readonly List<DbDataSource> _dataSources = [];
    private readonly string _app = TestSupport.AppName("contract");
    private string? _table;

    /// <summary>
    /// PoolKit: a <see cref="PoolKitDbConnection"/> opened inside a <see cref="System.Transactions.TransactionScope"/> throws
    /// <see cref="NotSupportedException"/> instead of enlisting (unless its connection string says <c>Enlist=false</c>).
    /// </summary>
    protected virtual bool Difference_OpenInsideTransactionScopeThrows => false;

    /// <summary>PoolKit: <see cref="DbConnection.ChangeDatabase"/> throws <see cref="NotSupportedException"/>.</summary>
    protected virtual bool Difference_ChangeDatabaseNotSupported => false;

    /// <summary>
    /// PoolKit: closing a connection while a COPY started through the Npgsql connection is still running destroys the
    /// server session (the COPY is abandoned with it) instead of cancelling the COPY and keeping the session.
    /// </summary>
    protected virtual bool Difference_CloseDuringCopyReplacesTheSession => false;

    /// <summary>
    /// PoolKit: closing a connection whose session was terminated while a transaction was open does not throw (the
    /// connection is destroyed); Npgsql's Close throws the server's 57P01 from its rollback.
    /// </summary>
    protected virtual bool Difference_CloseAfterSessionDiedDoesNotThrow => false;

    protected PostgresServerFixture Fixture => fixture;

    /// <summary>A unique application name per test class instance, so the server's view can be acted on by name.</summary>
    protected string App => _app;

    /// <summary>Creates the data source under test with at most <paramref name="maxSize"/> server sessions.</summary>
    protected abstract DbDataSource CreateDataSourceCore(string connectionString, int maxSize);

    /// <summary>The Npgsql connection an open connection runs on (the member PoolKit exposes for Npgsql-only APIs).</summary>
    protected abstract NpgsqlConnection Npgsql(DbConnection connection);

    /// <summary>Npgsql's transaction under a transaction of the data source (the member PoolKit exposes for Npgsql-only code).</summary>
    protected abstract NpgsqlTransaction NpgsqlTransaction(DbTransaction transaction);

    /// <summary>Reloads the types of the data source through the connection (Npgsql's <c>ReloadTypesAsync</c>, or PoolKit's).</summary>
    protected abstract Task ReloadTypesAsync(DbConnection connection);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (DbDataSource dataSource in _dataSources)
        {
            await dataSource.DisposeAsync();
        }

        if (_table is not null)
        {
            await using var admin = new NpgsqlConnection(fixture.Server.GetConnectionString(_app + "_admin"));
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP TABLE IF EXISTS {_table}", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    protected DbDataSource CreateDataSource(int maxSize = 1, string? extraSettings = null)
    {
        var builder = new NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(_app)) { Timeout = 10 };
        if (extraSettings is not null)
        {
            builder = new NpgsqlConnectionStringBuilder(builder.ConnectionString + ";" + extraSettings);
        }

        DbDataSource dataSource = CreateDataSourceCore(builder.ConnectionString, maxSize);
        _dataSources.Add(dataSource);
        return dataSource;
    }

    /// <summary>Creates a one-column table for the test (dropped at the end) and returns its name.</summary>
    protected async Task<string> TableAsync()
    {
        _table = "contract_" + Guid.NewGuid().ToString("N")[..12];
        await using var admin = new NpgsqlConnection(fixture.Server.GetConnectionString(_app + "_admin"));
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE TABLE {_table} (v int)", admin);
        await create.ExecuteNonQueryAsync();
        return _table;
    }

    /// <summary>Counts the rows of the test's table outside any pool.</summary>
    protected async Task<long> CountRowsAsync()
    {
        await using var admin = new NpgsqlConnection(fixture.Server.GetConnectionString(_app + "_admin"));
        await admin.OpenAsync();
        await using var count = new NpgsqlCommand($"SELECT count(*) FROM {_table}", admin);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    protected static object? Scalar(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        using DbCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command.ExecuteScalar();
    }

    protected static async Task<object?> ScalarAsync(DbConnection connection, string sql, DbTransaction? transaction = null, CancellationToken cancellationToken = default)
    {
        await using DbCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    protected static int Execute(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        using DbCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command.ExecuteNonQuery();
    }

    protected static int Pid(DbConnection connection) => (int)Scalar(connection, "SELECT pg_backend_pid()")!;
}
