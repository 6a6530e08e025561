namespace PoolKit.Testing;

/// <summary>Settings of a <see cref="PgBouncerTestServer"/>.</summary>
public sealed class PgBouncerTestServerOptions
{
    /// <summary>Gets or sets PgBouncer's <c>pool_mode</c>: <c>transaction</c>, <c>session</c> or <c>statement</c>.</summary>
    /// <value>Default: <c>transaction</c>.</value>
    public string PoolMode { get; set; } = "transaction";

    /// <summary>Gets or sets PgBouncer's <c>default_pool_size</c>: server connections per database and user pair.</summary>
    /// <value>Default: 5. Must be between 1 and 1000.</value>
    public int DefaultPoolSize { get; set; } = 5;

    /// <summary>Gets or sets PgBouncer's <c>max_client_conn</c>: client connections it accepts in all.</summary>
    /// <value>Default: 200. Must be between 1 and 10000.</value>
    public int MaxClientConnections { get; set; } = 200;

    /// <summary>Gets or sets the path of the <c>pgbouncer</c> executable.</summary>
    /// <value>Default: <see langword="null"/>: searched on PATH, then in <c>/usr/sbin</c> and <c>/usr/bin</c>
    /// (where Debian's <c>pgbouncer</c> package puts it).</value>
    public string? ExecutablePath { get; set; }

    /// <summary>Gets or sets how long a start may take before it fails.</summary>
    /// <value>Default: 20 seconds. Must be positive.</value>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Gets or sets further <c>[pgbouncer]</c> settings, written after the helper's own (for example
    /// <c>server_idle_timeout</c>). Keys and values are written as given.
    /// </summary>
    /// <value>Default: empty.</value>
    public IDictionary<string, string> ExtraSettings { get; set; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Checks every rule and returns one message per violation.</summary>
    /// <returns>The violations; empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        List<string> errors = [];
        if (PoolMode is not ("transaction" or "session" or "statement"))
        {
            errors.Add($"PoolMode = '{PoolMode}': must be transaction, session or statement.");
        }

        if (DefaultPoolSize is < 1 or > 1000)
        {
            errors.Add($"DefaultPoolSize = {DefaultPoolSize}: must be between 1 and 1000.");
        }

        if (MaxClientConnections is < 1 or > 10000)
        {
            errors.Add($"MaxClientConnections = {MaxClientConnections}: must be between 1 and 10000.");
        }

        if (StartTimeout <= TimeSpan.Zero)
        {
            errors.Add($"StartTimeout = {StartTimeout}: must be positive.");
        }

        if (ExtraSettings is null)
        {
            errors.Add("ExtraSettings = null: must be set (it may be empty).");
        }
        else
        {
            foreach (KeyValuePair<string, string> setting in ExtraSettings)
            {
                if (string.IsNullOrWhiteSpace(setting.Key) || setting.Key.Any(c => c is '\n' or '\r' or '=')
                    || setting.Value is null || setting.Value.Any(c => c is '\n' or '\r'))
                {
                    errors.Add($"ExtraSettings has an invalid entry '{setting.Key}': keys must be non-blank without '=' and neither may contain a line break.");
                }
            }
        }

        return errors;
    }

    internal PgBouncerTestServerOptions Snapshot() => new()
    {
        PoolMode = PoolMode,
        DefaultPoolSize = DefaultPoolSize,
        MaxClientConnections = MaxClientConnections,
        ExecutablePath = ExecutablePath,
        StartTimeout = StartTimeout,
        ExtraSettings = ExtraSettings is null ? null! : new Dictionary<string, string>(ExtraSettings, StringComparer.Ordinal),
    };
}
