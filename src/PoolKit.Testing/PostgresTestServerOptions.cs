namespace PoolKit.Testing;

/// <summary>
/// Options for <see cref="PostgresTestServer.StartAsync(PostgresTestServerOptions?, CancellationToken)"/>. The
/// values are read once, when the server is started; changing them afterwards has no effect on that server.
/// </summary>
public sealed class PostgresTestServerOptions
{
    /// <summary>The name of the environment variable that <see cref="EnvironmentVariable"/> defaults to.</summary>
    public const string DefaultEnvironmentVariable = "POOLKIT_TEST_CONNECTION_STRING";

    /// <summary>Gets or sets the <c>max_connections</c> setting of a server the helper starts.</summary>
    /// <value>Default 200. Must be between 1 and 262143 (PostgreSQL's own limit).</value>
    /// <remarks>An <see cref="PostgresServerSource.Environment"/> server keeps its own setting.</remarks>
    public int MaxConnections { get; set; } = 200;

    /// <summary>Gets or sets how long starting a server (initdb plus start, or a container) may take.</summary>
    /// <value>Default 60 seconds. Must be positive and at most one hour.</value>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Gets or sets the name of the environment variable whose value, when set and not blank, is used as the
    /// connection string of an existing server; it wins over Docker and the local binaries.
    /// </summary>
    /// <value>Default <see cref="DefaultEnvironmentVariable"/> (<c>POOLKIT_TEST_CONNECTION_STRING</c>);
    /// <see langword="null"/> ignores the environment.</value>
    public string? EnvironmentVariable { get; set; } = DefaultEnvironmentVariable;

    /// <summary>Gets or sets whether a container is started when a Docker engine is reachable.</summary>
    /// <value>Default <see langword="true"/>. <see langword="false"/> never uses Docker.</value>
    public bool UseDocker { get; set; } = true;

    /// <summary>
    /// Gets or sets whether Docker is tried before the local binaries (<see langword="true"/>) or after them.
    /// </summary>
    /// <value>Default <see langword="true"/>. Has no effect when <see cref="UseDocker"/> is <see langword="false"/>.</value>
    public bool PreferDocker { get; set; } = true;

    /// <summary>Gets or sets what starts containers for the <see cref="PostgresServerSource.Container"/> source.</summary>
    /// <value>Default <see langword="null"/>: the provider of the PoolKit.Testing.Containers package when the
    /// application references it, otherwise none (the container source is skipped).</value>
    public IPostgresContainerProvider? ContainerProvider { get; set; }

    /// <summary>Gets or sets the Docker image of the container source.</summary>
    /// <value>Default <c>postgres:16-alpine</c>. Must not be blank.</value>
    public string ImageName { get; set; } = "postgres:16-alpine";

    /// <summary>
    /// Gets or sets how environment variables are read (the connection string variable and <c>DOCKER_HOST</c>).
    /// Tests inject a lookup to exercise the precedence without changing the process environment.
    /// </summary>
    /// <value>Default <see cref="System.Environment.GetEnvironmentVariable(string)"/>.</value>
    public Func<string, string?> GetEnvironmentVariable { get; set; } = System.Environment.GetEnvironmentVariable;

    /// <summary>
    /// Gets or sets the directories searched, in order, for <c>initdb</c>, <c>pg_ctl</c> and <c>postgres</c>
    /// (all three must be in the same directory).
    /// </summary>
    /// <value>Default <see langword="null"/>: the directories on <c>PATH</c>, then
    /// <c>/usr/lib/postgresql/&lt;version&gt;/bin</c> from the highest version down. An empty list disables the
    /// local cluster source.</value>
    public IReadOnlyList<string>? BinarySearchPaths { get; set; }

    /// <summary>Checks every option and reports all invalid ones at once.</summary>
    /// <exception cref="ArgumentException">One or more options are invalid; the message names each option,
    /// its value and the rule it breaks.</exception>
    public void Validate()
    {
        List<string> errors = [];
        if (MaxConnections is < 1 or > 262143)
        {
            errors.Add($"{nameof(MaxConnections)} is {MaxConnections}; it must be between 1 and 262143.");
        }

        if (StartTimeout <= TimeSpan.Zero || StartTimeout > TimeSpan.FromHours(1))
        {
            errors.Add($"{nameof(StartTimeout)} is {StartTimeout}; it must be positive and at most one hour.");
        }

        if (EnvironmentVariable is not null && string.IsNullOrWhiteSpace(EnvironmentVariable))
        {
            errors.Add($"{nameof(EnvironmentVariable)} is blank; set a variable name, or null to ignore the environment.");
        }

        if (string.IsNullOrWhiteSpace(ImageName))
        {
            errors.Add($"{nameof(ImageName)} is blank; it must name a Docker image such as 'postgres:16-alpine'.");
        }

        if (GetEnvironmentVariable is null)
        {
            errors.Add($"{nameof(GetEnvironmentVariable)} is null; it must be a lookup function.");
        }

        if (BinarySearchPaths is not null && BinarySearchPaths.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add($"{nameof(BinarySearchPaths)} contains a blank entry; every entry must be a directory path.");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException(
                "Invalid PostgresTestServerOptions: " + string.Join(" ", errors), "options");
        }
    }

    /// <summary>Returns a copy, so later changes by the caller do not affect a running server.</summary>
    internal PostgresTestServerOptions Snapshot() => new()
    {
        MaxConnections = MaxConnections,
        StartTimeout = StartTimeout,
        EnvironmentVariable = EnvironmentVariable,
        UseDocker = UseDocker,
        PreferDocker = PreferDocker,
        ImageName = ImageName,
        ContainerProvider = ContainerProvider,
        GetEnvironmentVariable = GetEnvironmentVariable,
        BinarySearchPaths = BinarySearchPaths?.ToArray(),
    };
}
