using System.Data.Common;
using Npgsql;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

/// <summary>The contract run against the anchor: Npgsql's own pooling data source.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlDataSourceContractTests(PostgresServerFixture fixture) : DataSourceContractTests(fixture)
{
    protected override DbDataSource CreateDataSourceCore(string connectionString, int maxSize) =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = true, MaxPoolSize = maxSize }.ConnectionString);

    protected override NpgsqlConnection Npgsql(DbConnection connection) => (NpgsqlConnection)connection;

    protected override NpgsqlTransaction NpgsqlTransaction(DbTransaction transaction) => (NpgsqlTransaction)transaction;

    protected override Task ReloadTypesAsync(DbConnection connection) => ((NpgsqlConnection)connection).ReloadTypesAsync();
}
