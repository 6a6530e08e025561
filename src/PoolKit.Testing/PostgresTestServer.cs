using System.Globalization;
using Npgsql;
using PoolKit.Testing.Internal;

namespace PoolKit.Testing;

/// <summary>
/// A running PostgreSQL server for tests and demos, with its connection string. Obtain one with
/// <see cref="StartAsync(PostgresTestServerOptions?, CancellationToken)"/>, which tries, in order:
/// <list type="number">
/// <item>a connection string in the environment variable <c>POOLKIT_TEST_CONNECTION_STRING</c>
/// (<see cref="PostgresServerSource.Environment"/>; it always wins);</item>
/// <item>a container when the PoolKit.Testing.Containers package is referenced (or
/// <see cref="PostgresTestServerOptions.ContainerProvider"/> is set) and a Docker engine is reachable
/// (<see cref="PostgresServerSource.Container"/>);</item>
/// <item>a throwaway cluster from the local PostgreSQL binaries (<see cref="PostgresServerSource.LocalCluster"/>).</item>
/// </list>
/// Dispose it to remove what it started (container, or cluster and its directory).
/// </summary>
/// <remarks>
/// <para>The fault controls (<see cref="StopAsync"/>, <see cref="StartAgainAsync"/>, <see cref="RestartAsync"/>,
/// <see cref="FreezeAsync"/>, <see cref="ThawAsync"/>) act only on a local cluster this object started, found by
/// the postmaster process id in its own data directory and that process's children; on the other sources they
/// throw <see cref="NotSupportedException"/>.</para>
/// <para>Concurrency: the lifecycle calls (fault controls and <see cref="DisposeAsync"/>) are serialized by
/// <see cref="_lifecycleGate"/>; the admin helpers may run concurrently with each other. <see cref="_disposed"/> is
/// set once by <see cref="Interlocked.Exchange(ref int, int)"/>; <see cref="_createdDatabases"/> is guarded by
/// locking it.</para>
/// </remarks>
public sealed partial class PostgresTestServer : IAsyncDisposable
{
    /// <summary>The application name of the helper's own admin connections.</summary>
    internal const string AdminApplicationName = "PoolKit.Testing admin";

    private readonly LocalCluster? _localCluster;
    private readonly IPostgresContainer? _container;
    private readonly SemaphoreSlim _lifecycleGate = new(1, 1);
    private readonly List<string> _createdDatabases = [];
    private int _disposed;

    private PostgresTestServer(
        PostgresServerSource source,
        string connectionString,
        LocalCluster? localCluster,
        IPostgresContainer? container)
    {
        NpgsqlConnectionStringBuilder builder = new(connectionString);
        Source = source;
        ConnectionString = connectionString;
        Host = builder.Host ?? "localhost";
        Port = builder.Port;
        Username = builder.Username ?? string.Empty;
        Database = builder.Database ?? Username;
        _localCluster = localCluster;
        _container = container;
    }

    /// <summary>
    /// Gets the connection string of the server, as a superuser for the servers the helper starts.
    /// </summary>
    /// <value>An Npgsql connection string. <b>It contains the password: treat it as a secret</b>; never log it
    /// (use <see cref="ToString"/> to describe the server).</value>
    public string ConnectionString { get; }

    /// <summary>Gets where the server comes from.</summary>
    public PostgresServerSource Source { get; }

    /// <summary>Gets the host name or address of the server (127.0.0.1 for a local cluster).</summary>
    public string Host { get; }

    /// <summary>Gets the TCP port of the server.</summary>
    public int Port { get; }

    /// <summary>Gets the database the connection string names (<c>postgres</c> for the servers the helper starts).</summary>
    public string Database { get; }

    /// <summary>Gets the user name of the connection string (<c>postgres</c> for the servers the helper starts).</summary>
    public string Username { get; }

    /// <summary>Gets the data directory of a local cluster.</summary>
    /// <value>The path, or <see langword="null"/> when <see cref="Source"/> is not
    /// <see cref="PostgresServerSource.LocalCluster"/>. Deleted, with its parent directory, on disposal.</value>
    public string? DataDirectory => _localCluster?.DataDirectory;

    /// <summary>Gets the server log file of a local cluster.</summary>
    /// <value>The path, or <see langword="null"/> when <see cref="Source"/> is not
    /// <see cref="PostgresServerSource.LocalCluster"/>.</value>
    public string? LogFilePath => _localCluster?.LogFile;

    /// <summary>Gets the process id of the running postmaster of a local cluster, read from its postmaster.pid.</summary>
    /// <value>The id, or <see langword="null"/> when the cluster is stopped or <see cref="Source"/> is not
    /// <see cref="PostgresServerSource.LocalCluster"/>.</value>
    public int? PostmasterProcessId => _localCluster?.ReadPostmasterPid();

    /// <summary>
    /// Provides a PostgreSQL server: the connection string in the environment when set, otherwise a container when
    /// a container provider is available (PoolKit.Testing.Containers referenced, or
    /// <see cref="PostgresTestServerOptions.ContainerProvider"/> set) and a Docker engine is reachable, otherwise a
    /// throwaway cluster from the local binaries (Docker and local swap places when
    /// <see cref="PostgresTestServerOptions.PreferDocker"/> is <see langword="false"/>).
    /// </summary>
    /// <param name="options">The options; <see langword="null"/> uses the defaults.</param>
    /// <param name="cancellationToken">Cancels the start; whatever was started is removed.</param>
    /// <returns>The running server; dispose it when done.</returns>
    /// <exception cref="ArgumentException">An option is invalid, or the environment variable is set but does not hold a
    /// valid Npgsql connection string.</exception>
    /// <exception cref="PostgresUnavailableException">No source could provide a server; the message lists what was
    /// tried and what to do (set the environment variable, start Docker, or install the PostgreSQL binaries).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<PostgresTestServer> StartAsync(
        PostgresTestServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        PostgresTestServerOptions settings = (options ?? new PostgresTestServerOptions()).Snapshot();
        settings.Validate();

        List<string> tried = [];
        if (settings.EnvironmentVariable is { } variable)
        {
            string? fromEnvironment = settings.GetEnvironmentVariable(variable);
            if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                return FromEnvironment(variable, fromEnvironment);
            }

            tried.Add($"environment variable {variable}: not set");
        }
        else
        {
            tried.Add("environment variable: ignored (EnvironmentVariable = null)");
        }

        Exception? lastFailure = null;
        bool[] dockerFirst = settings.PreferDocker ? [true, false] : [false, true];
        foreach (bool docker in dockerFirst)
        {
            try
            {
                PostgresTestServer? server = docker
                    ? await TryStartContainerAsync(settings, tried, cancellationToken).ConfigureAwait(false)
                    : await TryStartLocalClusterAsync(settings, tried, cancellationToken).ConfigureAwait(false);
                if (server is not null)
                {
                    return server;
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                // Docker may be reachable and still fail (no image, no network): fall through to the next source.
                tried.Add((docker ? "Docker: " : "local PostgreSQL binaries: ") + ex.Message);
                lastFailure = ex;
            }
        }

        throw new PostgresUnavailableException(UnavailableMessage(settings, tried), lastFailure);
    }

    /// <summary>Creates a builder holding <see cref="ConnectionString"/>, to derive connection strings from.</summary>
    /// <returns>A new builder; changing it does not affect this server.</returns>
    public NpgsqlConnectionStringBuilder CreateConnectionStringBuilder() => new(ConnectionString);

    /// <summary>
    /// Gets <see cref="ConnectionString"/> with the given application name (so the connections can be counted and
    /// terminated by name) and, by default, Npgsql's own pooling turned off.
    /// </summary>
    /// <param name="applicationName">The <c>Application Name</c> to set.</param>
    /// <param name="pooling">Whether Npgsql's built-in pool is used. Default <see langword="false"/>.</param>
    /// <returns>The connection string. It contains the password.</returns>
    /// <exception cref="ArgumentException"><paramref name="applicationName"/> is null or blank.</exception>
    public string GetConnectionString(string applicationName, bool pooling = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(applicationName);
        NpgsqlConnectionStringBuilder builder = CreateConnectionStringBuilder();
        builder.ApplicationName = applicationName;
        builder.Pooling = pooling;
        return builder.ConnectionString;
    }

    /// <summary>Describes the server without its password, e.g. <c>PostgreSQL (LocalCluster) postgres@127.0.0.1:40123/postgres</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"PostgreSQL ({Source}) {Username}@{Host}:{Port}/{Database}");

    /// <summary>
    /// Removes what this object started: stops the local cluster immediately and deletes its directory, or
    /// disposes the container. For the environment source, drops the databases made by
    /// <see cref="CreateDatabaseAsync"/> (best effort). Calling it again does nothing.
    /// </summary>
    /// <returns>A task that completes when the teardown is done.</returns>
    /// <exception cref="IOException">The local cluster's directory or processes could not be removed.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifecycleGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_localCluster is not null)
            {
                string? problem = await _localCluster.DestroyAsync().ConfigureAwait(false);
                if (problem is not null)
                {
                    throw new IOException($"Tearing down {this} left something behind: {problem}");
                }
            }
            else if (_container is not null)
            {
                await _container.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await DropCreatedDatabasesAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _lifecycleGate.Release();
        }
    }

    private static PostgresTestServer FromEnvironment(string variable, string connectionString)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException)
        {
            // Neither the value nor the parser's message (which may quote part of it, a password included) is kept,
            // and the parser's exception is not chained, so not even its ToString() can show it.
            throw new ArgumentException(
                $"The environment variable {variable} is set but is not a valid Npgsql connection string (its value is "
                + "not shown: it may hold a password). Check its keywords and values, e.g. "
                + "Host=127.0.0.1;Port=5432;Username=postgres;Password=...;Database=postgres.");
        }

        return new PostgresTestServer(PostgresServerSource.Environment, connectionString, localCluster: null, container: null);
    }

    private static async Task<PostgresTestServer?> TryStartContainerAsync(
        PostgresTestServerOptions settings,
        List<string> tried,
        CancellationToken cancellationToken)
    {
        if (!settings.UseDocker)
        {
            tried.Add("Docker: not used (UseDocker = false)");
            return null;
        }

        IPostgresContainerProvider? provider = settings.ContainerProvider;
        if (provider is null)
        {
            provider = ContainerProviderDiscovery.Find(out string? missing);
            if (provider is null)
            {
                tried.Add("Docker: " + missing);
                return null;
            }
        }

        string? problem = await provider.FindProblemAsync(settings.GetEnvironmentVariable, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            tried.Add("Docker: " + problem);
            return null;
        }

        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.StartTimeout);
        IPostgresContainer container;
        try
        {
            container = await provider.StartAsync(settings.ImageName, settings.MaxConnections, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"the container from '{settings.ImageName}' did not start within StartTimeout ({settings.StartTimeout.TotalSeconds:0.#} s).");
        }

        return new PostgresTestServer(PostgresServerSource.Container, container.ConnectionString, localCluster: null, container);
    }

    private static async Task<PostgresTestServer?> TryStartLocalClusterAsync(
        PostgresTestServerOptions settings,
        List<string> tried,
        CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            tried.Add("local PostgreSQL binaries: a throwaway local cluster is only supported on Linux");
            return null;
        }

        PostgresBinaries? binaries = PostgresBinaries.Find(settings.BinarySearchPaths, settings.GetEnvironmentVariable);
        if (binaries is null)
        {
            string where = settings.BinarySearchPaths is { } paths
                ? (paths.Count == 0 ? "(no directories to search)" : string.Join(", ", paths))
                : $"PATH or {PostgresBinaries.DebianRoot}/<version>/bin";
            tried.Add($"local PostgreSQL binaries: initdb, pg_ctl and postgres not found together in {where}");
            return null;
        }

        LocalCluster cluster = await LocalCluster.CreateAsync(
            binaries, settings.MaxConnections, settings.StartTimeout, cancellationToken).ConfigureAwait(false);
        NpgsqlConnectionStringBuilder builder = new()
        {
            Host = "127.0.0.1",
            Port = cluster.Port,
            Username = LocalCluster.Username,
            Password = cluster.Password,
            Database = "postgres",
        };
        return new PostgresTestServer(PostgresServerSource.LocalCluster, builder.ConnectionString, cluster, container: null);
    }

    private static string UnavailableMessage(PostgresTestServerOptions settings, List<string> tried)
    {
        string variable = settings.EnvironmentVariable ?? PostgresTestServerOptions.DefaultEnvironmentVariable;
        return "No PostgreSQL server is available for tests. Tried, in order:" + Environment.NewLine
            + string.Join(Environment.NewLine, tried.Select(t => "  - " + t)) + Environment.NewLine
            + "To fix this, do one of:" + Environment.NewLine
            + $"  - set {variable} to the Npgsql connection string of a server you run, for a superuser, e.g. "
            + $"export {variable}=\"Host=127.0.0.1;Port=5432;Username=postgres;Password=...;Database=postgres\";" + Environment.NewLine
            + "  - reference PoolKit.Testing.Containers and start a Docker engine (or set DOCKER_HOST) so a container can be started;" + Environment.NewLine
            + "  - install the PostgreSQL server binaries: on Debian/Ubuntu 'sudo apt-get install postgresql' "
            + "(initdb, pg_ctl and postgres must be on PATH or under /usr/lib/postgresql/<version>/bin).";
    }
}
