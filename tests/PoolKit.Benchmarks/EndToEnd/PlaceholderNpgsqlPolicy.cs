using Npgsql;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>
/// PLACEHOLDER until the PoolKit Npgsql adapter lands: the smallest policy that pools physical Npgsql connections
/// in a PoolKit pool. It opens each connection with <c>Pooling=false</c> (so Npgsql's own pool is not in the way),
/// considers a connection usable while it is open, and does no reset (no <c>DISCARD ALL</c>) and no validation
/// round trip. Replace the PoolKit row's policy with the adapter's once it is on main.
/// </summary>
public sealed class PlaceholderNpgsqlPolicy : ResourcePolicy<NpgsqlConnection>
{
    private readonly string _connectionString;

    /// <summary>Creates the policy.</summary>
    /// <param name="connectionString">The server's connection string; pooling is switched off here.</param>
    public PlaceholderNpgsqlPolicy(string connectionString)
    {
        _connectionString = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false }.ConnectionString;
    }

    /// <inheritdoc />
    public override async ValueTask<NpgsqlConnection> CreateAsync(CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public override bool IsUsable(NpgsqlConnection resource) => resource.State == System.Data.ConnectionState.Open;
}
