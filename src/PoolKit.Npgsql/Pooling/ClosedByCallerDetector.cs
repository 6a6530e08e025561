using System.Data;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Npgsql;
using PoolKit.Npgsql.Diagnostics;

namespace PoolKit.Npgsql;

/// <summary>
/// Wraps the pool's <see cref="NpgsqlConnectionPolicy"/> to catch the commonest misuse: a caller who closed or
/// disposed the leased <see cref="NpgsqlConnection"/> (<c>await using var conn = lease.Resource;</c>, the habit
/// <see cref="NpgsqlDataSource"/> teaches). With Npgsql's pooling off that closed the physical connection, so the
/// pool must destroy it and open another: pooling is silently off. The detector counts each such return
/// (<see cref="ClosedByCaller"/> and the <c>poolkit.npgsql.connection.closed_by_caller</c> counter) and logs the
/// first one per pool at Warning, with the fix.
/// </summary>
/// <remarks>
/// The check is the core's <see cref="IResourcePolicy{T}.IsClosedByCaller"/>, run on every return before the reset, so
/// it costs one field read per return, and the pool counts such a destroy in
/// <see cref="PoolDestroyedCounts.ClosedByCaller"/> (not as a failed reset). Concurrency:
/// <see cref="_closedByCaller"/> and <see cref="_warned"/> change only by <see cref="Interlocked"/>.
/// </remarks>
internal sealed class ClosedByCallerDetector : IResourcePolicy<NpgsqlConnection>
{
    /// <summary>The counter's name.</summary>
    public const string CounterName = "poolkit.npgsql.connection.closed_by_caller";

    private readonly NpgsqlConnectionPolicy _inner;
    private readonly ILogger _logger;
    private readonly Counter<long>? _counter;
    private readonly KeyValuePair<string, object?> _poolTag;
    private readonly string _poolName;
    private long _closedByCaller;
    private int _warned;

    public ClosedByCallerDetector(NpgsqlConnectionPolicy inner, string poolName, ILogger logger, Meter? meter)
    {
        _inner = inner;
        _poolName = poolName;
        _logger = logger;
        _poolTag = new KeyValuePair<string, object?>(PoolKitTelemetry.PoolNameTag, poolName);
        _counter = meter?.CreateCounter<long>(CounterName, "{connection}", "The number of leased connections returned closed by their caller (each one destroyed and replaced).");
    }

    /// <summary>Gets how many leased connections came back closed by their caller.</summary>
    public long ClosedByCaller => Interlocked.Read(ref _closedByCaller);

    public ValueTask<NpgsqlConnection> CreateAsync(CancellationToken cancellationToken) => _inner.CreateAsync(cancellationToken);

    public bool IsUsable(NpgsqlConnection resource) => _inner.IsUsable(resource);

    public bool IsPermanentCreationError(Exception exception) => _inner.IsPermanentCreationError(exception);

    public ValueTask<bool> ValidateAsync(NpgsqlConnection resource, CancellationToken cancellationToken) => _inner.ValidateAsync(resource, cancellationToken);

    /// <summary>Checked by the pool on every return, before the reset: the pool then destroys the connection and counts it in <see cref="PoolDestroyedCounts.ClosedByCaller"/>.</summary>
    public bool IsClosedByCaller(NpgsqlConnection resource)
    {
        // Closed (not Broken): the caller closed it; a broken connection is the server's or the network's doing.
        if (resource.FullState != ConnectionState.Closed)
        {
            return false;
        }

        Interlocked.Increment(ref _closedByCaller);
        _counter?.Add(1, _poolTag);
        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            _logger.ConnectionClosedByCaller(_poolName);
        }

        return true;
    }

    public ValueTask<bool> ResetAsync(NpgsqlConnection resource, CancellationToken cancellationToken) => _inner.ResetAsync(resource, cancellationToken);

    public ValueTask DestroyAsync(NpgsqlConnection resource) => _inner.DestroyAsync(resource);
}
