namespace PoolKit.Npgsql;

/// <summary>The event ids of PoolKit.Npgsql's own log messages (the pool's are in <see cref="PoolEventIds"/>).</summary>
public static class NpgsqlPoolEventIds
{
    /// <summary>The connection string asked for Npgsql's pooling, which PoolKit turned off (Information, once per pool).</summary>
    public const int NpgsqlPoolingDisabled = 2000;

    /// <summary>The in-process transaction status is unavailable; resets fall back to a round trip (Warning, once per pool).</summary>
    public const int TransactionStatusUnavailable = 2001;

    /// <summary>A health check could not obtain a connection (Debug).</summary>
    public const int HealthCheckFailed = 2002;

    /// <summary>
    /// <see cref="NpgsqlResetMode.Discard"/> cannot queue its reset in front of the next command with this Npgsql
    /// version; each return costs a round trip instead (Warning, once per pool, when it is built).
    /// </summary>
    public const int QueuedResetUnavailable = 2010;

    /// <summary>
    /// This Npgsql version does not let PoolKit look at an idle connection's socket, so a connection whose server ended
    /// the session while it sat idle is found only by validation (Warning, once per pool, when it is built).
    /// </summary>
    public const int HangupCheckUnavailable = 2011;

    /// <summary>
    /// This Npgsql version does not let PoolKit take its connections out of the connection series of Npgsql's own
    /// meter, which then reports them all as used (Information, once per pool, when it is built).
    /// </summary>
    public const int NpgsqlMeterSeriesKept = 2012;

    /// <summary>A leased connection came back closed by its caller (Warning, once per pool; every occurrence is counted).</summary>
    public const int ConnectionClosedByCaller = 2003;
}
