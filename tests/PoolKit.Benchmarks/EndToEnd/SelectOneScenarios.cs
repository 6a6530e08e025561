using Npgsql;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>The <c>SELECT 1</c> scenarios: one query per operation, on a connection from the pool under test.</summary>
public static class SelectOneScenarios
{
    /// <summary>The row name of Npgsql's built-in pool.</summary>
    public const string NpgsqlPool = "Npgsql built-in pool";

    /// <summary>The row name of Npgsql's built-in pool without its reset on return (a like-for-like anchor for a PoolKit policy that does not reset).</summary>
    public const string NpgsqlPoolNoReset = "Npgsql built-in pool, No Reset On Close";

    /// <summary>The row name of the unpooled anchor.</summary>
    public const string NoPooling = "no pooling (Pooling=false)";

    /// <summary>Creates the scenarios for one server.</summary>
    /// <param name="connectionString">The server's connection string.</param>
    /// <param name="maxPoolSize">The maximum size of every pool.</param>
    /// <returns>The anchors first, then the PoolKit rows.</returns>
    public static IReadOnlyList<Scenario> Create(string connectionString, int maxPoolSize) =>
    [
        new NpgsqlDataSourceScenario(NpgsqlPool, connectionString, pooling: true, maxPoolSize),
        new NpgsqlDataSourceScenario(NpgsqlPoolNoReset, connectionString, pooling: true, maxPoolSize, noResetOnClose: true),
        new NpgsqlDataSourceScenario(NoPooling, connectionString, pooling: false, maxPoolSize),
        new PoolKitScenario(
            $"PoolKit (placeholder policy, max {maxPoolSize})",
            new ConnectionPool<NpgsqlConnection>(
                new PlaceholderNpgsqlPolicy(connectionString),
                new ConnectionPoolOptions { Name = "e2e", MaxSize = maxPoolSize })),
    ];

    private static async ValueTask SelectOneAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand("SELECT 1", connection);
        _ = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a connection from an <see cref="NpgsqlDataSource"/> per operation, pooled or not.</summary>
    private sealed class NpgsqlDataSourceScenario : Scenario
    {
        private readonly NpgsqlDataSource _dataSource;

        public NpgsqlDataSourceScenario(string name, string connectionString, bool pooling, int maxPoolSize, bool noResetOnClose = false)
        {
            Name = name;
            var builder = new NpgsqlConnectionStringBuilder(connectionString)
            {
                Pooling = pooling,
                MaxPoolSize = maxPoolSize,
                ApplicationName = pooling ? "poolkit-e2e-npgsql-pool" : "poolkit-e2e-no-pool",

                // Npgsql resets a returned connection by sending DISCARD ALL with the next command; the placeholder
                // PoolKit policy does not reset, so this row compares like with like.
                NoResetOnClose = noResetOnClose,
            };
            _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        }

        public override string Name { get; }

        public override async ValueTask ExecuteAsync(CancellationToken cancellationToken)
        {
            NpgsqlConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                await SelectOneAsync(connection, cancellationToken).ConfigureAwait(false);
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Leases a connection from a PoolKit pool per operation.</summary>
    private sealed class PoolKitScenario : Scenario
    {
        private readonly ConnectionPool<NpgsqlConnection> _pool;

        public PoolKitScenario(string name, ConnectionPool<NpgsqlConnection> pool)
        {
            Name = name;
            _pool = pool;
        }

        public override string Name { get; }

        public override IReadOnlyList<string> ComparedWith => [NpgsqlPool, NpgsqlPoolNoReset, NoPooling];

        public override async ValueTask ExecuteAsync(CancellationToken cancellationToken)
        {
            using PoolLease<NpgsqlConnection> lease = await _pool.AcquireAsync(cancellationToken).ConfigureAwait(false);
            await SelectOneAsync(lease.Resource, cancellationToken).ConfigureAwait(false);
        }

        public override async ValueTask DisposeAsync()
        {
            await _pool.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
