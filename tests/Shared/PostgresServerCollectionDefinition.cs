// Shared by the database test projects together with PostgresServerFixture.cs (xUnit wants the collection
// definition in the test assembly itself, so each project compiles this file too).
namespace PoolKit.Tests.Fixtures;

/// <summary>The xUnit collection whose test classes share one <see cref="PostgresServerFixture"/>.</summary>
[Xunit.CollectionDefinition(Name)]
public sealed class PostgresServerCollectionDefinition : Xunit.ICollectionFixture<PostgresServerFixture>
{
    /// <summary>The collection name to put in <c>[Collection(...)]</c>.</summary>
    public const string Name = "PostgreSQL server";
}
