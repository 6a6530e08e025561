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

    /// <summary>
    /// Gets or sets whether <see cref="ConnectionString"/> points at a transaction pooler (PgBouncer with
    /// <c>pool_mode = transaction</c>, or a pooler that works alike), which hands each transaction of a client
    /// connection to whichever server session is free.
    /// </summary>
    /// <value>Default: <see langword="false"/>.</value>
    /// <remarks>
    /// <para>When <see langword="true"/>, the pool picks what works behind such a pooler and refuses, at construction
    /// and listed with the other option errors, what cannot work:</para>
    /// <list type="bullet">
    /// <item><see cref="ResetMode"/> <see cref="NpgsqlResetMode.Discard"/> (the default) becomes
    /// <see cref="NpgsqlResetMode.RollbackOnly"/>: a client connection has no server session of its own to clean, and
    /// the queued <c>DISCARD ALL</c> would reset whichever session the next transaction lands on.
    /// <see cref="NpgsqlResetMode.DiscardOnReturn"/> is refused for the same reason.</item>
    /// <item><c>Max Auto Prepare</c> above 0 is refused: a prepared statement exists in one server session only, and
    /// the next transaction may run on another (error 26000, seen through PgBouncer 1.18).</item>
    /// <item><c>Options</c> and <c>Search Path</c> are refused: they are startup parameters, which a transaction
    /// pooler does not carry to the server session of each transaction (PgBouncer refuses them, or drops them when
    /// told to ignore them). Set them on the role or database instead (<c>ALTER ROLE … SET</c>).</item>
    /// </list>
    /// <para>What cannot be checked at construction remains the application's to avoid: session-level <c>SET</c>
    /// (use <c>SET LOCAL</c>), session advisory locks (use <c>pg_advisory_xact_lock</c>), <c>LISTEN</c> (connect to the
    /// server directly), temporary tables and <c>WITH HOLD</c> cursors outliving a transaction. COPY, NpgsqlBatch and
    /// the batch runner work.</para>
    /// </remarks>
    public bool BehindTransactionPooler { get; set; }

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
        BehindTransactionPooler = BehindTransactionPooler,
        Pool = Pool?.Clone() ?? new ConnectionPoolOptions(),
        StartupTimeout = StartupTimeout,
    };

    /// <summary>
    /// Gets the reset mode the pool runs with: <see cref="ResetMode"/>, except that <see cref="NpgsqlResetMode.Discard"/>
    /// becomes <see cref="NpgsqlResetMode.RollbackOnly"/> when <see cref="BehindTransactionPooler"/> is set.
    /// </summary>
    internal NpgsqlResetMode EffectiveResetMode =>
        BehindTransactionPooler && ResetMode == NpgsqlResetMode.Discard ? NpgsqlResetMode.RollbackOnly : ResetMode;

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

        if (BehindTransactionPooler && ResetMode == NpgsqlResetMode.DiscardOnReturn)
        {
            errors.Add(Internal.ConnectionStringRules.PoolerDiscardOnReturn);
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
            if (Internal.ConnectionStringRules.Check(ConnectionString, errors) is { } builder && BehindTransactionPooler)
            {
                Internal.ConnectionStringRules.CheckTransactionPooler(builder, errors);
            }
        }

        return errors;
    }
}
