using System.Data.Common;
using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

/// <summary>The contract run against <see cref="PoolKitDataSource"/> with the default reset (Npgsql's queued reset).</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public class PoolKitDataSourceContractTests(PostgresServerFixture fixture) : DataSourceContractTests(fixture)
{
    /// <summary>Gets the reset mode the pool runs with.</summary>
    protected virtual NpgsqlResetMode ResetMode => NpgsqlResetMode.Discard;

    protected override bool Difference_OpenInsideTransactionScopeThrows => true;

    protected override bool Difference_ChangeDatabaseNotSupported => true;

    protected override bool Difference_CloseDuringCopyReplacesTheSession => true;

    protected override bool Difference_CloseAfterSessionDiedDoesNotThrow => true;

    protected override DbDataSource CreateDataSourceCore(string connectionString, int maxSize) =>
        new PoolKitDataSource(
            NpgsqlConnectionPool.Create(connectionString, new ConnectionPoolOptions { Name = App, MaxSize = maxSize, AcquireTimeout = TimeSpan.FromSeconds(10) }, ResetMode),
            ownsPool: true);

    protected override NpgsqlConnection Npgsql(DbConnection connection) => ((PoolKitDbConnection)connection).NpgsqlConnection;

    protected override NpgsqlTransaction NpgsqlTransaction(DbTransaction transaction) => ((PoolKitDbTransaction)transaction).NpgsqlTransaction;

    protected override Task ReloadTypesAsync(DbConnection connection) => ((PoolKitDbConnection)connection).ReloadTypesAsync();
}
