namespace PoolKit.Cli.Infrastructure;

/// <summary>Where the command's PostgreSQL comes from.</summary>
internal sealed class ServerOptions
{
    /// <summary>The environment variable read when <see cref="ConnectionString"/> is not given.</summary>
    public const string EnvironmentVariable = "POOLKIT_CONNECTION_STRING";

    /// <summary>Gets or sets the connection string given with <c>--connection</c>.</summary>
    /// <value>Default <see langword="null"/>: <see cref="EnvironmentVariable"/>, else a throwaway local server.</value>
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets the directory holding <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c> for the throwaway server.</summary>
    /// <value>Default <see langword="null"/>: PATH, then <c>/usr/lib/postgresql/&lt;version&gt;/bin</c>.</value>
    public string? PostgresBinDirectory { get; set; }

    /// <summary>Gets or sets the <c>max_connections</c> of a throwaway server.</summary>
    /// <value>Default 100.</value>
    public int MaxConnections { get; set; } = 100;

    /// <summary>Gets or sets how environment variables are read (tests inject their own).</summary>
    /// <value>Default <see cref="Environment.GetEnvironmentVariable(string)"/>.</value>
    public Func<string, string?> GetEnvironmentVariable { get; set; } = Environment.GetEnvironmentVariable;
}
