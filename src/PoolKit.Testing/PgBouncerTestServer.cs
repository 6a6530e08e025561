using System.Globalization;
using Npgsql;
using PoolKit.Testing.Internal;

namespace PoolKit.Testing;

/// <summary>
/// A throwaway PgBouncer in front of a PostgreSQL server, for tests and demos: its own configuration, pid file and
/// log in a temporary directory, listening on a free port on 127.0.0.1, in transaction pooling mode by default.
/// Clients authenticate with md5 as the server connection string's user (the same password); PgBouncer logs into
/// the server with that user and password. The admin console (database <c>pgbouncer</c>) is reached with
/// <c>psql</c>, because PgBouncer's console speaks only the simple query protocol, which Npgsql does not use.
/// </summary>
/// <remarks>
/// <para>The controls (<see cref="StopAsync"/>, <see cref="StartAgainAsync"/>, <see cref="RestartAsync"/>) act only
/// on the process this object started, found by the id in its own pid file. <see cref="DisposeAsync"/> kills it by
/// that id and deletes the directory; a test host that exits without disposing does the same from an exit handler.</para>
/// <para>Concurrency: the lifecycle calls are serialized by <see cref="_lifecycleGate"/>; the admin commands may run
/// concurrently. <see cref="_disposed"/> is set once by <see cref="Interlocked.Exchange(ref int, int)"/>.</para>
/// </remarks>
public sealed class PgBouncerTestServer : IAsyncDisposable
{
    private static readonly TimeSpan s_adminTimeout = TimeSpan.FromSeconds(15);

    private readonly PgBouncerProcess _process;
    private readonly string _psql;
    private readonly string _username;
    private readonly NpgsqlConnectionStringBuilder _clientTemplate;
    private readonly SemaphoreSlim _lifecycleGate = new(1, 1);
    private int _disposed;

    private PgBouncerTestServer(PgBouncerProcess process, string psql, NpgsqlConnectionStringBuilder server, PgBouncerTestServerOptions options)
    {
        _process = process;
        _psql = psql;
        _username = server.Username!;
        Options = options;
        _clientTemplate = new NpgsqlConnectionStringBuilder(server.ConnectionString)
        {
            Host = "127.0.0.1",
            Port = process.Port,
        };
    }

    /// <summary>Gets the TCP port PgBouncer listens on (on 127.0.0.1).</summary>
    public int Port => _process.Port;

    /// <summary>Gets the host clients connect to: always <c>127.0.0.1</c>.</summary>
    public string Host { get; } = "127.0.0.1";

    /// <summary>Gets a copy of the options PgBouncer was started with.</summary>
    public PgBouncerTestServerOptions Options { get; }

    /// <summary>Gets the connection string of the server's database through PgBouncer.</summary>
    /// <value>The server connection string with host and port replaced by PgBouncer's. <b>It contains the
    /// password.</b></value>
    public string ConnectionString => _clientTemplate.ConnectionString;

    /// <summary>Gets the directory holding PgBouncer's configuration, pid file and log; deleted on disposal.</summary>
    public string DirectoryPath => _process.RootDirectory;

    /// <summary>Gets PgBouncer's log file.</summary>
    public string LogFilePath => _process.LogFile;

    /// <summary>Gets the process id of the running PgBouncer, read from its pid file.</summary>
    /// <value>The id, or <see langword="null"/> while it is stopped.</value>
    public int? ProcessId => _process.ReadPid();

    /// <summary>Starts a PgBouncer in front of <paramref name="server"/>.</summary>
    /// <param name="server">The PostgreSQL server; its connection string's user becomes PgBouncer's only user.</param>
    /// <param name="options">The options; <see langword="null"/> uses the defaults.</param>
    /// <param name="cancellationToken">Cancels the start; whatever was started is removed.</param>
    /// <returns>The running PgBouncer; dispose it when done.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="server"/> is null.</exception>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="PostgresUnavailableException">pgbouncer or psql is not installed; the message says what to install.</exception>
    /// <exception cref="InvalidOperationException">PgBouncer did not start; the message includes its log.</exception>
    public static Task<PgBouncerTestServer> StartAsync(
        PostgresTestServer server,
        PgBouncerTestServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        return StartAsync(server.ConnectionString, options, cancellationToken);
    }

    /// <summary>Starts a PgBouncer in front of the server of <paramref name="serverConnectionString"/>.</summary>
    /// <param name="serverConnectionString">An Npgsql connection string naming host, port, user and password of the server.</param>
    /// <param name="options">The options; <see langword="null"/> uses the defaults.</param>
    /// <param name="cancellationToken">Cancels the start; whatever was started is removed.</param>
    /// <returns>The running PgBouncer; dispose it when done.</returns>
    /// <exception cref="ArgumentException">The connection string names no user, or an option is invalid.</exception>
    /// <exception cref="PostgresUnavailableException">pgbouncer or psql is not installed; the message says what to install.</exception>
    /// <exception cref="InvalidOperationException">PgBouncer did not start; the message includes its log.</exception>
    public static async Task<PgBouncerTestServer> StartAsync(
        string serverConnectionString,
        PgBouncerTestServerOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(serverConnectionString);
        PgBouncerTestServerOptions settings = (options ?? new PgBouncerTestServerOptions()).Snapshot();
        IReadOnlyList<string> errors = settings.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid PgBouncerTestServerOptions: " + string.Join(" ", errors), nameof(options));
        }

        NpgsqlConnectionStringBuilder server = new(serverConnectionString);
        if (string.IsNullOrEmpty(server.Username))
        {
            throw new ArgumentException("The server connection string names no user (Username): PgBouncer needs one to log in.", nameof(serverConnectionString));
        }

        string executable = PgBouncerProcess.FindExecutable(settings.ExecutablePath)
            ?? throw new PostgresUnavailableException(
                (settings.ExecutablePath is null
                    ? "pgbouncer was not found on PATH, in /usr/sbin or in /usr/bin."
                    : $"pgbouncer was not found at ExecutablePath '{settings.ExecutablePath}'.")
                + " Install it: on Debian/Ubuntu 'sudo apt-get install pgbouncer' (the tests start their own pgbouncer process; the package's service is not used).");
        string psql = FindPsql()
            ?? throw new PostgresUnavailableException(
                "psql was not found on PATH or under /usr/lib/postgresql/<version>/bin; PgBouncerTestServer needs it for PgBouncer's admin console. "
                + "Install it: on Debian/Ubuntu 'sudo apt-get install postgresql-client'.");

        PgBouncerProcess process = await PgBouncerProcess.CreateAsync(executable, settings, server, cancellationToken).ConfigureAwait(false);
        return new PgBouncerTestServer(process, psql, server, settings);
    }

    /// <summary>Gets <see cref="ConnectionString"/> with the given application name and Npgsql's own pooling off.</summary>
    /// <param name="applicationName">The <c>Application Name</c> to set.</param>
    /// <returns>The connection string. It contains the password.</returns>
    /// <exception cref="ArgumentException"><paramref name="applicationName"/> is null or blank.</exception>
    public string GetConnectionString(string applicationName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(applicationName);
        return new NpgsqlConnectionStringBuilder(ConnectionString) { ApplicationName = applicationName, Pooling = false }.ConnectionString;
    }

    /// <summary>Runs <c>SHOW POOLS</c> on the admin console.</summary>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>One entry per database and user pair (the console's own <c>pgbouncer</c> pair included).</returns>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="InvalidOperationException">The console could not be reached or refused the command.</exception>
    public async Task<IReadOnlyList<PgBouncerPoolStatus>> ShowPoolsAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<IReadOnlyDictionary<string, string>> rows = await RunAdminCommandAsync("SHOW POOLS", cancellationToken).ConfigureAwait(false);
        return rows.Select(r => new PgBouncerPoolStatus(
            r["database"],
            r["user"],
            Int(r, "cl_active"),
            Int(r, "cl_waiting"),
            Int(r, "sv_active"),
            Int(r, "sv_idle"),
            Int(r, "sv_used"),
            Int(r, "sv_tested"),
            Int(r, "sv_login"),
            r.TryGetValue("pool_mode", out string? mode) ? mode : string.Empty)).ToList();

        static int Int(IReadOnlyDictionary<string, string> row, string column) =>
            row.TryGetValue(column, out string? value) && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : 0;
    }

    /// <summary>Runs <c>PAUSE</c>: PgBouncer waits for running transactions to end, then holds new ones until <see cref="ResumeAsync"/>.</summary>
    /// <param name="database">One database, or <see langword="null"/> (default) for all.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>A task that completes when PgBouncer reports the pause done.</returns>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="InvalidOperationException">The console could not be reached or refused the command.</exception>
    public Task PauseAsync(string? database = null, CancellationToken cancellationToken = default) =>
        RunAdminCommandAsync(WithDatabase("PAUSE", database), cancellationToken);

    /// <summary>Runs <c>RESUME</c> after <see cref="PauseAsync"/>.</summary>
    /// <param name="database">One database, or <see langword="null"/> (default) for all.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>A task that completes when PgBouncer has resumed.</returns>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="InvalidOperationException">The console could not be reached or refused the command.</exception>
    public Task ResumeAsync(string? database = null, CancellationToken cancellationToken = default) =>
        RunAdminCommandAsync(WithDatabase("RESUME", database), cancellationToken);

    /// <summary>
    /// Runs <c>RECONNECT</c>: PgBouncer closes each server connection when it is next released and opens new ones;
    /// client connections stay open.
    /// </summary>
    /// <param name="database">One database, or <see langword="null"/> (default) for all.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>A task that completes when PgBouncer accepted the command.</returns>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="InvalidOperationException">The console could not be reached or refused the command.</exception>
    public Task ReconnectAsync(string? database = null, CancellationToken cancellationToken = default) =>
        RunAdminCommandAsync(WithDatabase("RECONNECT", database), cancellationToken);

    /// <summary>Runs one command on the admin console with <c>psql</c> and returns its rows.</summary>
    /// <param name="command">The command, for example <c>SHOW CLIENTS</c> or <c>KILL mydb</c>.</param>
    /// <param name="cancellationToken">Cancels the command (psql is killed).</param>
    /// <returns>The rows, each a map from column name to text; empty for commands without rows.</returns>
    /// <exception cref="ArgumentException"><paramref name="command"/> is null or blank.</exception>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="InvalidOperationException">The console could not be reached or refused the command.</exception>
    public async Task<IReadOnlyList<IReadOnlyDictionary<string, string>>> RunAdminCommandAsync(string command, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        string conninfo = string.Create(
            CultureInfo.InvariantCulture,
            $"host=127.0.0.1 port={Port} dbname=pgbouncer user='{_username.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)}' passfile='{_process.PassFile}' connect_timeout=5 sslmode=disable");
        ProcessResult result;
        try
        {
            result = await ProcessRunner.RunAsync(
                _psql,
                ["-X", "-q", "-A", "-F", "\t", "-P", "footer=off", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", command],
                _process.RootDirectory,
                s_adminTimeout,
                cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new InvalidOperationException($"PgBouncer's admin console did not answer '{command}' within {s_adminTimeout.TotalSeconds:0} s.", ex);
        }

        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"PgBouncer's admin console failed '{command}' (psql exit code {result.ExitCode}): {result.StandardError.Trim()}");
        }

        string[] lines = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0)
        {
            return [];
        }

        string[] header = lines[0].TrimEnd('\r').Split('\t');
        List<IReadOnlyDictionary<string, string>> rows = [];
        foreach (string line in lines.Skip(1))
        {
            string[] cells = line.TrimEnd('\r').Split('\t');
            Dictionary<string, string> row = new(StringComparer.Ordinal);
            for (int i = 0; i < header.Length; i++)
            {
                row[header[i]] = i < cells.Length ? cells[i] : string.Empty;
            }

            rows.Add(row);
        }

        return rows;
    }

    /// <summary>
    /// Stops PgBouncer: SIGTERM (an immediate shutdown before PgBouncer 1.23), then SIGKILL if it is still there
    /// after 3 seconds. Client connections then fail with a real Npgsql error. Does nothing when it is stopped.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for the exit.</param>
    /// <returns>A task that completes when the process has exited.</returns>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    public Task StopAsync(CancellationToken cancellationToken = default) =>
        WithProcessAsync(p => p.StopAsync(cancellationToken), cancellationToken);

    /// <summary>Starts PgBouncer again after <see cref="StopAsync"/>, on the same port and configuration. Does nothing when it runs.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes when PgBouncer accepts connections.</returns>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="InvalidOperationException">PgBouncer could not start (for example its port was taken meanwhile).</exception>
    public Task StartAgainAsync(CancellationToken cancellationToken = default) =>
        WithProcessAsync(p => p.StartAsync(cancellationToken), cancellationToken);

    /// <summary>Stops PgBouncer and starts it again on the same port: every client and server connection is cut.</summary>
    /// <param name="cancellationToken">Cancels the restart.</param>
    /// <returns>A task that completes when PgBouncer accepts connections again.</returns>
    /// <exception cref="ObjectDisposedException">This object was disposed.</exception>
    /// <exception cref="InvalidOperationException">PgBouncer could not start again.</exception>
    public Task RestartAsync(CancellationToken cancellationToken = default) =>
        WithProcessAsync(
            async p =>
            {
                await p.StopAsync(cancellationToken).ConfigureAwait(false);
                await p.StartAsync(cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    /// <summary>Describes PgBouncer without secrets, e.g. <c>PgBouncer 127.0.0.1:40123 (transaction, pool 5)</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"PgBouncer {Host}:{Port} ({Options.PoolMode}, pool {Options.DefaultPoolSize})");

    /// <summary>Kills PgBouncer by its process id and deletes its directory. Calling it again does nothing.</summary>
    /// <returns>A task that completes when the teardown is done.</returns>
    /// <exception cref="IOException">The process or the directory could not be removed.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _lifecycleGate.WaitAsync().ConfigureAwait(false);
        try
        {
            string? problem = _process.Destroy();
            if (problem is not null)
            {
                throw new IOException($"Tearing down {this} left something behind: {problem}");
            }
        }
        finally
        {
            _lifecycleGate.Release();
        }
    }

    private static string WithDatabase(string command, string? database)
    {
        if (database is null)
        {
            return command;
        }

        if (database.Length == 0 || !database.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Database '{database}': only ASCII letters, digits and underscores are accepted.", nameof(database));
        }

        return command + " " + database;
    }

    private static string? FindPsql()
    {
        foreach (string directory in PostgresBinaries.DefaultSearchPaths(Environment.GetEnvironmentVariable))
        {
            string candidate = Path.Combine(directory, "psql");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private async Task WithProcessAsync(Func<PgBouncerProcess, Task> action, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _lifecycleGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            await action(_process).ConfigureAwait(false);
        }
        finally
        {
            _lifecycleGate.Release();
        }
    }
}
