using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace PoolKit.Testing.Internal;

/// <summary>
/// One PgBouncer process in its own temporary directory: <c>pgbouncer.ini</c>, <c>userlist.txt</c> (the single
/// user's password, for md5 from clients and for the server login), <c>pgbouncer.pid</c>, <c>pgbouncer.log</c> and
/// <c>pgpass</c> (for psql, the admin console client). Started daemonized (<c>-d</c>) as the server user when root;
/// found afterwards only by the process id in its own pid file.
/// </summary>
/// <remarks>Concurrency: not thread-safe; <see cref="PgBouncerTestServer"/> serializes the lifecycle calls.</remarks>
internal sealed class PgBouncerProcess
{
    private const int PortAttempts = 5;
    private static readonly TimeSpan s_stopGrace = TimeSpan.FromSeconds(3);

    private readonly string _executable;
    private readonly PgBouncerTestServerOptions _options;
    private readonly NpgsqlConnectionStringBuilder _server;

    private PgBouncerProcess(string executable, string rootDirectory, PgBouncerTestServerOptions options, NpgsqlConnectionStringBuilder server)
    {
        _executable = executable;
        RootDirectory = rootDirectory;
        _options = options;
        _server = server;
    }

    internal string RootDirectory { get; }

    internal string ConfigFile => Path.Combine(RootDirectory, "pgbouncer.ini");

    internal string LogFile => Path.Combine(RootDirectory, "pgbouncer.log");

    internal string PassFile => Path.Combine(RootDirectory, "pgpass");

    private string PidFile => Path.Combine(RootDirectory, "pgbouncer.pid");

    private string UserListFile => Path.Combine(RootDirectory, "userlist.txt");

    /// <summary>Names the test host that owns the directory: "pid starttime" from /proc, so a reused pid is not mistaken for it.</summary>
    private string OwnerFile => Path.Combine(RootDirectory, "owner");

    private const string DirectoryPrefix = "poolkit-pgbouncer-";

    internal int Port { get; private set; }

    /// <summary>Finds the pgbouncer executable; null when there is none.</summary>
    internal static string? FindExecutable(string? configured)
    {
        if (configured is not null)
        {
            return File.Exists(configured) ? Path.GetFullPath(configured) : null;
        }

        IEnumerable<string> directories = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"]);
        return directories.Select(d => Path.Combine(d, "pgbouncer")).FirstOrDefault(File.Exists);
    }

    /// <summary>Writes the files and starts PgBouncer on a free loopback port; on failure removes everything.</summary>
    internal static async Task<PgBouncerProcess> CreateAsync(
        string executable,
        PgBouncerTestServerOptions options,
        NpgsqlConnectionStringBuilder server,
        CancellationToken cancellationToken)
    {
        SweepCrashedHosts(executable, options, server);
        DirectoryInfo root = Directory.CreateTempSubdirectory(DirectoryPrefix);
        PgBouncerProcess process = new(executable, root.FullName, options, server);
        try
        {
            await File.WriteAllTextAsync(process.OwnerFile, Identity(Environment.ProcessId) ?? string.Empty, cancellationToken).ConfigureAwait(false);
            await process.WriteSecretsAsync(cancellationToken).ConfigureAwait(false);
            for (int attempt = 1; ; attempt++)
            {
                await process.WriteConfigAsync(ProbeFreePort(), cancellationToken).ConfigureAwait(false);
                await ServerUser.ChownAsync([process.RootDirectory, process.ConfigFile, process.UserListFile], process.RootDirectory, cancellationToken).ConfigureAwait(false);
                string? problem = await process.TryStartAsync(cancellationToken).ConfigureAwait(false);
                if (problem is null)
                {
                    ProcessExitTeardown.Register(process, process.EmergencyTeardown);
                    return process;
                }

                process.Kill();
                if (!problem.Contains("Address already in use", StringComparison.Ordinal) || attempt == PortAttempts)
                {
                    throw new InvalidOperationException($"PgBouncer did not start (attempt {attempt}, port {process.Port}): {problem}");
                }
            }
        }
        catch
        {
            process.Destroy();
            throw;
        }
    }

    /// <summary>
    /// Removes what a crashed test host left behind: for each PgBouncer directory of this helper in the temp directory
    /// whose owner process is gone, kills the PgBouncer its own pid file names (only if that process runs PgBouncer
    /// with that directory's configuration file) and deletes the directory. Best effort; never throws.
    /// </summary>
    private static void SweepCrashedHosts(string executable, PgBouncerTestServerOptions options, NpgsqlConnectionStringBuilder server)
    {
        try
        {
            foreach (string directory in Directory.EnumerateDirectories(Path.GetTempPath(), DirectoryPrefix + "*"))
            {
                PgBouncerProcess stale = new(executable, directory, options, server);
                string owner;
                try
                {
                    owner = File.ReadAllText(stale.OwnerFile).Trim();
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    continue; // being created right now, or not ours to judge
                }

                string[] parts = owner.Split(' ');
                if (parts.Length != 2
                    || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int ownerPid)
                    || Identity(ownerPid) == owner)
                {
                    continue; // its test host still runs
                }

                if (stale.ReadPid() is int pid && CommandLine(pid).Contains(stale.ConfigFile, StringComparison.Ordinal))
                {
                    Native.Signal(pid, Native.SigKill);
                }

                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            // Best effort: a leftover must never stop a new start.
        }
    }

    /// <summary>"pid starttime" of a running process (start time in clock ticks since boot, field 22 of /proc/pid/stat); null when gone.</summary>
    private static string? Identity(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 19 ? string.Create(CultureInfo.InvariantCulture, $"{pid} {fields[19]}") : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    /// <summary>Reads the process id from the pid file; null when PgBouncer is not running.</summary>
    internal int? ReadPid()
    {
        try
        {
            string text = File.ReadAllText(PidFile).Trim();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0 && ProcessTable.IsAlive(pid)
                ? pid
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Starts PgBouncer again on the same port and files; no-op when it runs.</summary>
    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        if (ReadPid() is not null)
        {
            return;
        }

        string? problem = await TryStartAsync(cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            Kill();
            throw new InvalidOperationException($"PgBouncer did not start again on port {Port}: {problem}");
        }
    }

    /// <summary>Stops PgBouncer: SIGTERM, then SIGKILL after a short grace period. No-op when it is not running.</summary>
    internal async Task StopAsync(CancellationToken cancellationToken)
    {
        if (ReadPid() is not int pid)
        {
            return;
        }

        Native.Signal(pid, Native.SigTerm);
        DateTime deadline = DateTime.UtcNow + s_stopGrace;
        while (ProcessTable.IsAlive(pid) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }

        Kill();
    }

    /// <summary>Kills PgBouncer (SIGKILL) and deletes the directory. Never throws; returns what was left, or null.</summary>
    internal string? Destroy()
    {
        ProcessExitTeardown.Unregister(this);
        try
        {
            Kill();
        }
        catch (InvalidOperationException ex)
        {
            return ex.Message;
        }

        return ScratchDirectory.TryDelete(RootDirectory);
    }

    /// <summary>Reads the log from <paramref name="offset"/>, at most its last 8 KB.</summary>
    internal string ReadLog(long offset = 0) => LogTail.Read(LogFile, offset, "log");

    private void EmergencyTeardown()
    {
        try
        {
            Destroy();
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // Best effort: the process is exiting.
        }
    }

    private void Kill()
    {
        if (ReadPid() is not int pid)
        {
            return;
        }

        Native.Signal(pid, Native.SigKill);
        for (int i = 0; i < 100 && ProcessTable.IsAlive(pid); i++)
        {
            Thread.Sleep(20);
        }
    }

    /// <summary>Starts the daemon and waits until it accepts TCP connections; returns null or what went wrong.</summary>
    private async Task<string?> TryStartAsync(CancellationToken cancellationToken)
    {
        long logOffset = new FileInfo(LogFile) is { Exists: true } log ? log.Length : 0;
        ProcessResult result = await ServerUser.RunAsync(
            _executable, ["-d", "-q", ConfigFile], RootDirectory, _options.StartTimeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            return $"pgbouncer exited with code {result.ExitCode}: {result.Output}{Environment.NewLine}{ReadLog(logOffset)}";
        }

        DateTime deadline = DateTime.UtcNow + _options.StartTimeout;
        while (true)
        {
            if (ReadPid() is not null && await AcceptsAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            if (DateTime.UtcNow > deadline)
            {
                return $"it did not accept connections on 127.0.0.1:{Port} within {_options.StartTimeout.TotalSeconds:0.#} s.{Environment.NewLine}{ReadLog(logOffset)}";
            }

            string logged = ReadLog(logOffset);
            if (logged.Contains("Address already in use", StringComparison.Ordinal))
            {
                return logged;
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> AcceptsAsync(CancellationToken cancellationToken)
    {
        using TcpClient client = new();
        try
        {
            using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, Port, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task WriteSecretsAsync(CancellationToken cancellationToken)
    {
        string user = _server.Username ?? throw new ArgumentException("The server connection string names no user (Username).");
        string password = _server.Password ?? string.Empty;

        // userlist.txt: "user" "password", double quotes doubled.
        await File.WriteAllTextAsync(UserListFile, $"\"{Quote(user)}\" \"{Quote(password)}\"\n", cancellationToken).ConfigureAwait(false);

        // pgpass for psql (runs as this process's user): host:port:database:user:password, ':' and '\' escaped.
        await File.WriteAllTextAsync(PassFile, $"*:*:*:{Escape(user)}:{Escape(password)}\n", cancellationToken).ConfigureAwait(false);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(UserListFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.SetUnixFileMode(PassFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        static string Quote(string value) => value.Replace("\"", "\"\"", StringComparison.Ordinal);
        static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(":", "\\:", StringComparison.Ordinal);
    }

    private async Task WriteConfigAsync(int port, CancellationToken cancellationToken)
    {
        Port = port;
        string host = _server.Host ?? "127.0.0.1";
        StringBuilder config = new();
        config.AppendLine("; Written by PoolKit.Testing for a throwaway PgBouncer.");
        config.AppendLine("[databases]");

        // The fallback entry: every database name goes to the same-named database of the server.
        config.AppendLine(CultureInfo.InvariantCulture, $"* = host={host} port={_server.Port}");
        config.AppendLine("[pgbouncer]");
        config.AppendLine("listen_addr = 127.0.0.1");
        config.AppendLine(CultureInfo.InvariantCulture, $"listen_port = {port}");
        config.AppendLine("unix_socket_dir =");
        config.AppendLine("auth_type = md5");
        config.AppendLine(CultureInfo.InvariantCulture, $"auth_file = {UserListFile}");
        config.AppendLine(CultureInfo.InvariantCulture, $"admin_users = {_server.Username}");
        config.AppendLine(CultureInfo.InvariantCulture, $"stats_users = {_server.Username}");
        config.AppendLine(CultureInfo.InvariantCulture, $"pool_mode = {_options.PoolMode}");
        config.AppendLine(CultureInfo.InvariantCulture, $"default_pool_size = {_options.DefaultPoolSize}");
        config.AppendLine("min_pool_size = 0");
        config.AppendLine("reserve_pool_size = 0");
        config.AppendLine(CultureInfo.InvariantCulture, $"max_client_conn = {_options.MaxClientConnections}");
        config.AppendLine(CultureInfo.InvariantCulture, $"logfile = {LogFile}");
        config.AppendLine(CultureInfo.InvariantCulture, $"pidfile = {PidFile}");

        // Npgsql may send these startup parameters; PgBouncer refuses unknown ones unless told to ignore them.
        config.AppendLine("ignore_startup_parameters = extra_float_digits,options,search_path");

        // After a failed server login PgBouncer waits this long before trying again (default 15 s): a restarted
        // server should be used again within a second.
        config.AppendLine("server_login_retry = 1");
        foreach (KeyValuePair<string, string> setting in _options.ExtraSettings)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"{setting.Key} = {setting.Value}");
        }

        await File.WriteAllTextAsync(ConfigFile, config.ToString(), cancellationToken).ConfigureAwait(false);
    }

    private static int ProbeFreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
