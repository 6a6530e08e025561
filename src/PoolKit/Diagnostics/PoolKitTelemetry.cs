namespace PoolKit;

/// <summary>Names used by PoolKit's metrics, for subscribing with OpenTelemetry or a <c>MeterListener</c>.</summary>
/// <remarks>
/// Instruments follow OpenTelemetry's semantic conventions for database client connection pools:
/// <list type="table">
/// <item><term><c>db.client.connection.count</c></term><description>Connections by <c>db.client.connection.state</c> (<c>idle</c>, <c>used</c>). UpDownCounter.</description></item>
/// <item><term><c>db.client.connection.max</c></term><description>MaxSize. UpDownCounter.</description></item>
/// <item><term><c>db.client.connection.idle.min</c></term><description>MinSize. UpDownCounter.</description></item>
/// <item><term><c>db.client.connection.idle.max</c></term><description>The most idle connections allowed (MaxSize). UpDownCounter.</description></item>
/// <item><term><c>db.client.connection.pending_requests</c></term><description>Acquirers waiting. UpDownCounter.</description></item>
/// <item><term><c>db.client.connection.timeouts</c></term><description>Acquires that timed out. Counter.</description></item>
/// <item><term><c>db.client.connection.create_time</c></term><description>Time to create a connection, seconds. Histogram.</description></item>
/// <item><term><c>db.client.connection.wait_time</c></term><description>Time to obtain a connection, seconds. Histogram.</description></item>
/// <item><term><c>db.client.connection.use_time</c></term><description>Time between acquire and return, seconds. Histogram.</description></item>
/// </list>
/// PoolKit adds its own counters (ObservableCounter, read from <see cref="PoolStatistics"/>): <c>poolkit.acquires</c>,
/// <c>poolkit.acquires.waited</c>, <c>poolkit.acquires.canceled</c>, <c>poolkit.acquires.rejected</c>,
/// <c>poolkit.abandoned</c>, and <c>poolkit.destroyed</c> by <c>poolkit.destroy.reason</c> (<c>broken</c>,
/// <c>closed_by_caller</c>, <c>unusable</c>, <c>validation_failed</c>, <c>reset_failed</c>, <c>lifetime</c>, <c>idle</c>,
/// <c>cleared</c>, <c>pool_disposed</c>).
/// Every measurement carries <c>db.client.connection.pool.name</c>.
/// </remarks>
public static class PoolKitTelemetry
{
    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> every pool reports to.</summary>
    public const string MeterName = "PoolKit";

    /// <summary>The tag that carries the pool's name.</summary>
    public const string PoolNameTag = "db.client.connection.pool.name";

    /// <summary>The tag that carries a connection's state (<c>idle</c> or <c>used</c>).</summary>
    public const string StateTag = "db.client.connection.state";

    /// <summary>The tag that carries why a connection was destroyed (on <c>poolkit.destroyed</c>).</summary>
    public const string ReasonTag = "poolkit.destroy.reason";
}
