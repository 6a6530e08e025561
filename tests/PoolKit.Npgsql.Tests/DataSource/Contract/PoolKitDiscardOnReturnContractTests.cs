using PoolKit.Tests.Fixtures;

namespace PoolKit.Npgsql.Tests.DataSource.Contract;

/// <summary>The contract run against <see cref="PoolKitDataSource"/> resetting with a round trip at return.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PoolKitDiscardOnReturnContractTests(PostgresServerFixture fixture) : PoolKitDataSourceContractTests(fixture)
{
    protected override NpgsqlResetMode ResetMode => NpgsqlResetMode.DiscardOnReturn;
}
