using Microsoft.Extensions.Logging;

namespace PoolKit.Npgsql.Diagnostics;

/// <summary>Every log line PoolKit.Npgsql writes; each carries the pool name and never a connection string.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(NpgsqlPoolEventIds.NpgsqlPoolingDisabled, LogLevel.Information, "Pool '{PoolName}': the connection string asks for Npgsql's pooling (Pooling=true); PoolKit turned it off because it is the pool. Size the pool with ConnectionPoolOptions.")]
    public static partial void NpgsqlPoolingDisabled(this ILogger logger, string poolName);

    [LoggerMessage(NpgsqlPoolEventIds.TransactionStatusUnavailable, LogLevel.Warning, "Pool '{PoolName}': this Npgsql version does not let PoolKit read the transaction status in process; ResetMode RollbackOnly now costs a round trip per return.")]
    public static partial void TransactionStatusUnavailable(this ILogger logger, string poolName);

    [LoggerMessage(NpgsqlPoolEventIds.QueuedResetUnavailable, LogLevel.Warning, "Pool '{PoolName}': this Npgsql version ({NpgsqlVersion}) does not let PoolKit queue the session reset in front of the next command; ResetMode Discard now costs a round trip per return (as DiscardOnReturn does).")]
    public static partial void QueuedResetUnavailable(this ILogger logger, string poolName, string? npgsqlVersion);

    [LoggerMessage(NpgsqlPoolEventIds.HangupCheckUnavailable, LogLevel.Warning, "Pool '{PoolName}': this Npgsql version ({NpgsqlVersion}) does not let PoolKit look at an idle connection's socket; a connection whose server ended the session while it sat idle is found only by validation (after ValidationBypassWindow), and within the window its first command fails.")]
    public static partial void HangupCheckUnavailable(this ILogger logger, string poolName, string? npgsqlVersion);

    [LoggerMessage(NpgsqlPoolEventIds.NpgsqlMeterSeriesKept, LogLevel.Information, "Pool '{PoolName}': this Npgsql version ({NpgsqlVersion}) does not let PoolKit take its connections out of Npgsql's meter; db.client.connection.count of meter 'Npgsql' reports them all as used under this pool's name. Read the pool's connections from meter 'PoolKit'.")]
    public static partial void NpgsqlMeterSeriesKept(this ILogger logger, string poolName, string? npgsqlVersion);

    [LoggerMessage(NpgsqlPoolEventIds.HealthCheckFailed, LogLevel.Debug, "Pool '{PoolName}': the health check could not obtain a connection.")]
    public static partial void HealthCheckFailed(this ILogger logger, string poolName, Exception error);

    [LoggerMessage(NpgsqlPoolEventIds.ConnectionClosedByCaller, LogLevel.Warning, "Pool '{PoolName}': a leased connection came back closed, so the pool destroys it and must open another: the caller closed or disposed the NpgsqlConnection itself (for example 'await using var conn = lease.Resource;'), which turns pooling off. Dispose the lease, not its connection, or use PoolKitDataSource, whose connections go back to the pool when disposed. Logged once per pool; NpgsqlConnectionPool.ClosedByCaller and the poolkit.npgsql.connection.closed_by_caller counter count every occurrence.")]
    public static partial void ConnectionClosedByCaller(this ILogger logger, string poolName);
}
