namespace PoolKit.Npgsql;

/// <summary>
/// Settings of an <see cref="NpgsqlConnectionPool"/>: where to connect, how to reset returned connections, and
/// the pool's own options. Bindable from configuration (for example <c>{ "ConnectionString": "...",
/// "ResetMode": "RollbackOnly", "Pool": { "MaxSize": 20 } }</c>).
/// </summary>
/// <remarks>
/// Npgsql's own pooling is always turned off: PoolKit is the pool. <c>Pooling=true</c> in the connection string is
/// overridden (and logged once at Information level). The pool-sizing keywords <c>Min Pool Size</c>,
/// <c>Max Pool Size</c>, <c>Connection Idle Lifetime</c>, <c>Connection Pruning Interval</c> and
/// <c>Connection Lifetime</c> are rejected, naming the PoolKit option to use instead
/// (<see cref="ConnectionPoolOptions.MinSize"/>, <see cref="ConnectionPoolOptions.MaxSize"/>,
/// <see cref="ConnectionPoolOptions.IdleTimeout"/>, <see cref="ConnectionPoolOptions.MaintenanceInterval"/>,
/// <see cref="ConnectionPoolOptions.MaxLifetime"/>), and so is <c>Multiplexing=true</c>, which needs Npgsql's pool:
/// silently translating or ignoring them would leave two different limits in play.
/// </remarks>
public sealed class NpgsqlConnectionPoolOptions
{
    /// <summary>Gets or sets the Npgsql connection string. It may contain a password; PoolKit never logs or displays it.</summary>
    /// <value>Default: <see langword="null"/>. Required unless the pool is built from an <c>NpgsqlDataSourceBuilder</c>.</value>
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets how a returned connection is reset before the next user gets it.</summary>
    /// <value>Default: <see cref="NpgsqlResetMode.Discard"/>.</value>
    public NpgsqlResetMode ResetMode { get; set; } = NpgsqlResetMode.Discard;

    /// <summary>Gets or sets the pool's own options (name, bounds, timeouts, validation window).</summary>
    /// <value>Default: a new <see cref="ConnectionPoolOptions"/> with its documented defaults.</value>
    public ConnectionPoolOptions Pool { get; set; } = new();

    /// <summary>
    /// Gets or sets how long a host's start may wait for the pool to open its first connections. When set, starting
    /// the host (through the hosted service that <c>AddNpgsqlConnectionPool</c> registers) waits until
    /// max(<see cref="ConnectionPoolOptions.MinSize"/>, 1) connections are open, and fails the start with the real
    /// error if a connection attempt fails permanently (bad password, unknown database) or the time runs out, so a
    /// wrong connection string is found by the deployment, not by the first user.
    /// </summary>
    /// <value>Default: <see langword="null"/>: the pool is built when the host starts and warms up to MinSize in the background.</value>
    public TimeSpan? StartupTimeout { get; set; }

    /// <summary>Creates an independent copy of these options (the <see cref="Pool"/> options are copied too).</summary>
    /// <returns>The copy.</returns>
    public NpgsqlConnectionPoolOptions Clone() => new()
    {
        ConnectionString = ConnectionString,
        ResetMode = ResetMode,
        Pool = Pool?.Clone() ?? new ConnectionPoolOptions(),
        StartupTimeout = StartupTimeout,
    };

    /// <summary>
    /// Checks every rule (the pool options' rules, the reset mode, and the connection string's keywords) and returns
    /// one message per violation. Messages never contain the connection string.
    /// </summary>
    /// <param name="requireConnectionString">Whether a missing <see cref="ConnectionString"/> is a violation.</param>
    /// <returns>The violations; empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate(bool requireConnectionString = true)
    {
        var errors = new List<string>();
        if (Pool is null)
        {
            errors.Add("Pool = null: must be set.");
        }
        else
        {
            errors.AddRange(Pool.Validate());
        }

        if (!Enum.IsDefined(ResetMode))
        {
            errors.Add($"ResetMode = {(int)ResetMode}: must be None, RollbackOnly, Discard or DiscardOnReturn.");
        }

        if (StartupTimeout is { } startup && (startup <= TimeSpan.Zero || startup == Timeout.InfiniteTimeSpan))
        {
            errors.Add($"StartupTimeout = {startup}: must be positive and finite, or null to not wait.");
        }

        if (string.IsNullOrWhiteSpace(ConnectionString))
        {
            if (requireConnectionString)
            {
                errors.Add("ConnectionString is empty: must be an Npgsql connection string (with dependency injection it may also come from ConnectionStrings:<pool name>).");
            }
        }
        else
        {
            Internal.ConnectionStringRules.Check(ConnectionString, errors);
        }

        return errors;
    }
}
