namespace PoolKit.Testing;

/// <summary>Where the PostgreSQL server behind a <see cref="PostgresTestServer"/> comes from.</summary>
public enum PostgresServerSource
{
    /// <summary>
    /// An existing server named by a connection string in an environment variable
    /// (<see cref="PostgresTestServerOptions.EnvironmentVariable"/>). The helper neither starts nor stops it.
    /// </summary>
    Environment = 0,

    /// <summary>
    /// A container started on a reachable Docker engine by an <see cref="IPostgresContainerProvider"/> (the
    /// PoolKit.Testing.Containers package, through Testcontainers); removed on disposal.
    /// </summary>
    Container = 1,

    /// <summary>
    /// A throwaway cluster started from the local PostgreSQL binaries (initdb, pg_ctl, postgres) in a fresh
    /// temporary directory; stopped and deleted on disposal. Only this source supports the fault controls.
    /// </summary>
    LocalCluster = 2,
}
