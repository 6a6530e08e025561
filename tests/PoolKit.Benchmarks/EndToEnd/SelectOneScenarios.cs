using System.Data.Common;
using Npgsql;
using PoolKit.Npgsql;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>The <c>SELECT 1</c> scenarios: one query per operation, on a connection from the pool under test.</summary>
public static class SelectOneScenarios
{
    /// <summary>The row name of Npgsql's built-in pool.</summary>
    public const string NpgsqlPool = "Npgsql built-in pool";

    /// <summary>The row name of Npgsql's built-in pool without its reset on return (a like-for-like anchor for a PoolKit policy that does not reset).</summary>
    public const string NpgsqlPoolNoReset = "Npgsql built-in pool, No Reset On Close";

    /// <summary>The row name of Npgsql's built-in pool driven through <see cref="DbDataSource"/> code (the anchor of the data-source row).</summary>
    public const string NpgsqlDbDataSource = "Npgsql built-in pool, DbDataSource code";

    /// <summary>The row name of the unpooled anchor.</summary>
    public const string NoPooling = "no pooling (Pooling=false)";

    /// <summary>Creates the scenarios for one server.</summary>
    /// <param name="connectionString">The server's connection string.</param>
    /// <param name="maxPoolSize">The maximum size of every pool.</param>
    /// <returns>The anchors first, then the PoolKit rows.</returns>
    /// <remarks>
    /// The PoolKit rows use the real <see cref="NpgsqlConnectionPool"/> with default options but for MaxSize, once per
    /// reset mode: <see cref="NpgsqlResetMode.Discard"/> (the default: Npgsql's own reset queued in front of the next
    /// command, the same isolation and cost as Npgsql's pool) is compared with Npgsql's pool;
    /// <see cref="NpgsqlResetMode.DiscardOnReturn"/> (a <c>DISCARD ALL</c> round trip at every return) with the same;
    /// <see cref="NpgsqlResetMode.RollbackOnly"/> (no round trip when no transaction is open) with Npgsql's pool with
    /// <c>No Reset On Close</c>, its like-for-like anchor. Every row's connections carry their own application name,
    /// so the server's sessions are counted per row.
    /// </remarks>
    public static IReadOnlyList<Scenario> Create(string connectionString, int maxPoolSize) =>
    [
        new NpgsqlDataSourceScenario(NpgsqlPool, "poolkit-e2e-npgsql-pool", connectionString, pooling: true, maxPoolSize),
        new NpgsqlDataSourceScenario(NpgsqlPoolNoReset, "poolkit-e2e-npgsql-pool-noreset", connectionString, pooling: true, maxPoolSize, noResetOnClose: true),
        new NpgsqlDataSourceScenario(NoPooling, "poolkit-e2e-no-pool", connectionString, pooling: false, maxPoolSize),
        new PoolKitScenario($"PoolKit NpgsqlConnectionPool, reset Discard, default (max {maxPoolSize})", CreatePoolKit(connectionString, maxPoolSize, NpgsqlResetMode.Discard, "poolkit-e2e-discard"), [NpgsqlPool, NoPooling]),
        new PoolKitScenario($"PoolKit NpgsqlConnectionPool, reset DiscardOnReturn (max {maxPoolSize})", CreatePoolKit(connectionString, maxPoolSize, NpgsqlResetMode.DiscardOnReturn, "poolkit-e2e-discard-on-return"), [NpgsqlPool]),
        new PoolKitScenario($"PoolKit NpgsqlConnectionPool, reset RollbackOnly (max {maxPoolSize})", CreatePoolKit(connectionString, maxPoolSize, NpgsqlResetMode.RollbackOnly, "poolkit-e2e-rollback-only"), [NpgsqlPoolNoReset, NoPooling]),
        new DbDataSourceScenario(NpgsqlDbDataSource, "poolkit-e2e-npgsql-dbdatasource", CreateNpgsqlDataSource(connectionString, maxPoolSize, "poolkit-e2e-npgsql-dbdatasource"), []),
        new DbDataSourceScenario(
            $"PoolKitDataSource, reset Discard, DbDataSource code (max {maxPoolSize})",
            "poolkit-e2e-datasource",
            new PoolKitDataSource(CreatePoolKit(connectionString, maxPoolSize, NpgsqlResetMode.Discard, "poolkit-e2e-datasource"), ownsPool: true),
            [NpgsqlDbDataSource]),
    ];

    private static NpgsqlDataSource CreateNpgsqlDataSource(string connectionString, int maxPoolSize, string applicationName) =>
        NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = true, MaxPoolSize = maxPoolSize, ApplicationName = applicationName }.ConnectionString);

    /// <summary>Creates a PoolKit pool of <paramref name="maxPoolSize"/> connections over the server, with the given reset mode.</summary>
    /// <param name="connectionString">The server's connection string (PoolKit turns Npgsql's own pooling off).</param>
    /// <param name="maxPoolSize">The pool's MaxSize.</param>
    /// <param name="resetMode">How returned connections are reset.</param>
    /// <param name="name">The pool name, also the application name of its connections.</param>
    /// <returns>The pool.</returns>
    public static NpgsqlConnectionPool CreatePoolKit(string connectionString, int maxPoolSize, NpgsqlResetMode resetMode, string name = "poolkit-e2e")
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = name, Pooling = false };
        return NpgsqlConnectionPool.Create(builder.ConnectionString, new ConnectionPoolOptions { Name = name, MaxSize = maxPoolSize }, resetMode);
    }

    private static async ValueTask SelectOneAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand("SELECT 1", connection);
        _ = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a connection from an <see cref="NpgsqlDataSource"/> per operation, pooled or not.</summary>
    private sealed class NpgsqlDataSourceScenario : Scenario
    {
        private readonly NpgsqlDataSource _dataSource;

        public NpgsqlDataSourceScenario(string name, string applicationName, string connectionString, bool pooling, int maxPoolSize, bool noResetOnClose = false)
        {
            Name = name;
            ApplicationName = pooling ? applicationName : null;
            var builder = new NpgsqlConnectionStringBuilder(connectionString)
            {
                Pooling = pooling,
                MaxPoolSize = maxPoolSize,
                ApplicationName = applicationName,

                // Npgsql resets a returned connection by sending DISCARD ALL with the next command; with No Reset
                // On Close it does not, like PoolKit's RollbackOnly mode when no transaction is open.
                NoResetOnClose = noResetOnClose,
            };
            _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        }

        public override string Name { get; }

        public override string? ApplicationName { get; }

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
        private readonly NpgsqlConnectionPool _pool;

        public PoolKitScenario(string name, NpgsqlConnectionPool pool, IReadOnlyList<string> comparedWith)
        {
            Name = name;
            _pool = pool;
            ComparedWith = comparedWith;
        }

        public override string Name { get; }

        public override string? ApplicationName => _pool.Name;

        public override IReadOnlyList<string> ComparedWith { get; }

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

    /// <summary>
    /// Opens a connection per operation through code written only against <see cref="DbDataSource"/>,
    /// <see cref="DbConnection"/> and <see cref="DbCommand"/> (as Dapper or a repository would), so Npgsql's data source
    /// and <see cref="PoolKitDataSource"/> run exactly the same code.
    /// </summary>
    private sealed class DbDataSourceScenario : Scenario
    {
        private readonly DbDataSource _dataSource;

        public DbDataSourceScenario(string name, string applicationName, DbDataSource dataSource, IReadOnlyList<string> comparedWith)
        {
            Name = name;
            ApplicationName = applicationName;
            _dataSource = dataSource;
            ComparedWith = comparedWith;
        }

        public override string Name { get; }

        public override string? ApplicationName { get; }

        public override IReadOnlyList<string> ComparedWith { get; }

        public override async ValueTask ExecuteAsync(CancellationToken cancellationToken)
        {
            DbConnection connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                DbCommand command = connection.CreateCommand();
                await using (command.ConfigureAwait(false))
                {
                    command.CommandText = "SELECT 1";
                    _ = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await _dataSource.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
