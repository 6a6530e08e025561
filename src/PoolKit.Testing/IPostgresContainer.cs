namespace PoolKit.Testing;

/// <summary>A running PostgreSQL container started by an <see cref="IPostgresContainerProvider"/>; dispose it to remove it.</summary>
public interface IPostgresContainer : IAsyncDisposable
{
    /// <summary>Gets the superuser connection string of the server in the container.</summary>
    /// <value>An Npgsql connection string. It contains the password: never log it.</value>
    string ConnectionString { get; }
}
