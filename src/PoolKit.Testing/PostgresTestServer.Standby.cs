using Npgsql;
using PoolKit.Testing.Internal;

namespace PoolKit.Testing;

// Streaming standbys: used by PostgresStandbyPair.
public sealed partial class PostgresTestServer
{
    /// <summary>Starts a streaming standby of this local cluster (see <see cref="PostgresStandbyPair"/>).</summary>
    internal async Task<PostgresTestServer> StartStandbyAsync(int maxConnections, CancellationToken cancellationToken)
    {
        if (_localCluster is null)
        {
            throw new NotSupportedException($"A standby can only be made of a local cluster started by PostgresTestServer; this server's source is {Source} ({this}).");
        }

        ThrowIfDisposed();
        LocalCluster standby;
        await _lifecycleGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            standby = await LocalCluster.CreateStandbyAsync(_localCluster, maxConnections, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _lifecycleGate.Release();
        }

        NpgsqlConnectionStringBuilder builder = CreateConnectionStringBuilder();
        builder.Port = standby.Port;
        return new PostgresTestServer(PostgresServerSource.LocalCluster, builder.ConnectionString, standby, container: null);
    }

    /// <summary>Promotes this local cluster, a standby, to a primary; returns when it accepts writes.</summary>
    internal Task PromoteAsync(CancellationToken cancellationToken) =>
        WithClusterAsync(nameof(PromoteAsync), c => c.PromoteAsync(cancellationToken), cancellationToken);
}
