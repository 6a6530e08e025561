// Shared by the database test projects, which reference PoolKit.Testing.Xunit (the fixture users get) and compile
// this file and PostgresServerCollectionDefinition.cs next to it:
//   <Compile Include="../Shared/PostgresServerFixture.cs" Link="Shared/PostgresServerFixture.cs" />
//   <Compile Include="../Shared/PostgresServerCollectionDefinition.cs" Link="Shared/PostgresServerCollectionDefinition.cs" />
// and mark test classes [Collection(PostgresServerCollectionDefinition.Name)] to share one server per test run.
namespace PoolKit.Tests.Fixtures;

/// <summary>
/// The shipped <see cref="PoolKit.Testing.Xunit.PostgresServerFixture"/> under the name the repository's tests use, so
/// they exercise exactly what users reference: one server per collection, removed when the collection is done.
/// </summary>
public sealed class PostgresServerFixture : PoolKit.Testing.Xunit.PostgresServerFixture;
