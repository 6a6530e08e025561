using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace PoolKit.Testing.Internal;

/// <summary>
/// A throwaway PostgreSQL cluster in its own temporary directory, started from local binaries:
/// <c>&lt;root&gt;/data</c> is the data directory, <c>&lt;root&gt;/postgres.log</c> the server log and
/// <c>&lt;root&gt;</c> itself the unix socket directory. The server listens on 127.0.0.1 only, on a port probed
/// free just before the start (the start is retried on another port if the port was taken in between), and
/// requires a SCRAM password for TCP connections. When this process is root, every PostgreSQL command runs as
/// the <c>postgres</c> OS user and the directory is owned by it.
/// </summary>
/// <remarks>
/// Concurrency: not thread-safe; <see cref="PostgresTestServer"/> serializes the lifecycle calls under its gate.
/// <see cref="_frozenPids"/> is also read by <see cref="EmergencyTeardown"/> on the process-exit thread; it is
/// replaced as a whole (volatile) so that reader sees either the old or the new array.
/// Processes are only ever found from this cluster's own postmaster.pid and their parent ids, never by name.
/// </remarks>
internal sealed class LocalCluster
{
    private const string ServerUser = "postgres";
    private const int PortAttempts = 5;
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(30);

    private readonly PostgresBinaries _binaries;
    private readonly bool _runAsServerUser;
    private readonly TimeSpan _startTimeout;
    private volatile int[] _frozenPids = [];

    private LocalCluster(PostgresBinaries binaries, string rootDirectory, bool runAsServerUser, TimeSpan startTimeout, string? password = null)
    {
        _binaries = binaries;
        RootDirectory = rootDirectory;
        _runAsServerUser = runAsServerUser;
        _startTimeout = startTimeout;
        Password = password ?? RandomNumberGenerator.GetHexString(32, lowercase: true);
    }

    /// <summary>Gets the temporary directory that holds everything of this cluster.</summary>
    internal string RootDirectory { get; }

    /// <summary>Gets the data directory.</summary>
    internal string DataDirectory => Path.Combine(RootDirectory, "data");

    /// <summary>Gets the server log file (pg_ctl -l).</summary>
    internal string LogFile => Path.Combine(RootDirectory, "postgres.log");

    /// <summary>Gets the superuser password (random, per cluster).</summary>
    internal string Password { get; }

    /// <summary>Gets the superuser name.</summary>
    internal static string Username => ServerUser;

    /// <summary>Gets the TCP port on 127.0.0.1; fixed once the first start succeeded.</summary>
    internal int Port { get; private set; }

    /// <summary>Gets whether <see cref="Freeze"/> was called without a matching <see cref="Thaw"/>.</summary>
    internal bool IsFrozen => _frozenPids.Length > 0;

    private string ConfigFile => Path.Combine(DataDirectory, "poolkit.conf");

    /// <summary>Creates the directory, runs initdb and starts the server; on any failure removes everything.</summary>
    internal static async Task<LocalCluster> CreateAsync(
        PostgresBinaries binaries,
        int maxConnections,
        TimeSpan startTimeout,
        CancellationToken cancellationToken)
    {
        bool asServerUser = Native.IsRoot;
        DirectoryInfo root = Directory.CreateTempSubdirectory("poolkit-pg-");
        LocalCluster cluster = new(binaries, root.FullName, asServerUser, startTimeout);
        try
        {
            await cluster.InitializeAsync(maxConnections, cancellationToken).ConfigureAwait(false);
            await cluster.FirstStartAsync(maxConnections, cancellationToken).ConfigureAwait(false);
            LocalClusterRegistry.Register(cluster);
            return cluster;
        }
        catch
        {
            await cluster.DestroyAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Creates a streaming standby of <paramref name="primary"/> in a directory of its own: <c>pg_basebackup -R</c>
    /// over TCP (the password in a pgpass file of the standby's directory, which <c>primary_conninfo</c> names), then
    /// its own port and socket directory, then a start that waits until it accepts read-only connections.
    /// </summary>
    internal static async Task<LocalCluster> CreateStandbyAsync(LocalCluster primary, int maxConnections, CancellationToken cancellationToken)
    {
        DirectoryInfo root = Directory.CreateTempSubdirectory("poolkit-pg-standby-");
        LocalCluster cluster = new(primary._binaries, root.FullName, primary._runAsServerUser, primary._startTimeout, primary.Password);
        try
        {
            string passFile = Path.Combine(cluster.RootDirectory, "pgpass");
            await File.WriteAllTextAsync(passFile, $"*:*:*:{ServerUser}:{primary.Password}\n", cancellationToken).ConfigureAwait(false);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            await cluster.ChownToServerUserAsync([cluster.RootDirectory, passFile], cancellationToken).ConfigureAwait(false);
            ProcessResult backup = await cluster.RunAsServerUserAsync(
                FindBaseBackup(primary._binaries),
                [
                    "-D", cluster.DataDirectory,
                    "-R",
                    "-X", "stream",
                    "-c", "fast",
                    "--no-sync",
                    "-d", $"host=127.0.0.1 port={primary.Port.ToString(CultureInfo.InvariantCulture)} user={ServerUser} passfile={passFile} application_name=poolkit_standby",
                ],
                cluster._startTimeout,
                cancellationToken).ConfigureAwait(false);
            if (backup.ExitCode != 0)
            {
                throw new InvalidOperationException($"pg_basebackup failed with exit code {backup.ExitCode}: {backup.Output}");
            }

            // The copy holds the primary's poolkit.conf: give the standby its own port and socket directory.
            await cluster.WriteConfigAsync(maxConnections, ProbeFreePort(), cancellationToken).ConfigureAwait(false);
            await cluster.ChownToServerUserAsync([cluster.ConfigFile], cancellationToken).ConfigureAwait(false);
            await cluster.FirstStartAsync(maxConnections, cancellationToken).ConfigureAwait(false);
            LocalClusterRegistry.Register(cluster);
            return cluster;
        }
        catch
        {
            await cluster.DestroyAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Finds pg_basebackup next to pg_ctl (or next to the file a pg_ctl symlink points to), else on the default paths.</summary>
    private static string FindBaseBackup(PostgresBinaries binaries)
    {
        List<string> directories = [binaries.Directory];
        if (new FileInfo(binaries.PgCtl).ResolveLinkTarget(returnFinalTarget: true) is { } target
            && Path.GetDirectoryName(target.FullName) is { } resolved)
        {
            directories.Add(resolved);
        }

        directories.AddRange(PostgresBinaries.DefaultSearchPaths(Environment.GetEnvironmentVariable));
        return directories.Select(d => Path.Combine(d, "pg_basebackup")).FirstOrDefault(File.Exists)
            ?? throw new PostgresUnavailableException(
                $"pg_basebackup was not found next to pg_ctl ({binaries.Directory}), on PATH or under {PostgresBinaries.DebianRoot}/<version>/bin; "
                + "a standby needs it. Install the PostgreSQL server binaries: on Debian/Ubuntu 'sudo apt-get install postgresql'.");
    }

    /// <summary>Promotes a standby to a primary (<c>pg_ctl promote -w</c>): returns when it accepts writes.</summary>
    internal async Task PromoteAsync(CancellationToken cancellationToken)
    {
        ProcessResult result = await RunAsServerUserAsync(
            _binaries.PgCtl,
            ["promote", "-D", DataDirectory, "-w", "-t", Seconds(_startTimeout), "-s"],
            _startTimeout + TimeSpan.FromSeconds(10),
            cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_ctl could not promote the server on port {Port}: {result.Output}");
        }
    }

    /// <summary>Reads the postmaster's process id from postmaster.pid; null when the server is not running.</summary>
    internal int? ReadPostmasterPid()
    {
        string pidFile = Path.Combine(DataDirectory, "postmaster.pid");
        string? firstLine;
        try
        {
            using FileStream stream = new(pidFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using StreamReader reader = new(stream);
            firstLine = reader.ReadLine();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (int.TryParse(firstLine, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
            && pid > 0
            && ProcessTable.IsAlive(pid))
        {
            return pid;
        }

        return null;
    }

    /// <summary>Starts the server again on the same data directory and port; no-op when it runs.</summary>
    internal async Task StartAsync(CancellationToken cancellationToken)
    {
        if (ReadPostmasterPid() is not null)
        {
            return;
        }

        long logOffset = LogLength();
        ProcessResult result = await RunPgCtlStartAsync(cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"pg_ctl could not start the server again on port {Port}: {result.Output}{Environment.NewLine}{ReadLog(logOffset)}");
        }
    }

    /// <summary>Stops the server (fast or immediate shutdown); no-op when it is not running. Thaws it first.</summary>
    internal async Task StopAsync(bool immediate, CancellationToken cancellationToken)
    {
        Thaw();
        if (ReadPostmasterPid() is null)
        {
            return;
        }

        ProcessResult result = await RunAsServerUserAsync(
            _binaries.PgCtl,
            ["stop", "-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", Seconds(s_stopTimeout), "-s"],
            s_stopTimeout + TimeSpan.FromSeconds(10),
            cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0 && ReadPostmasterPid() is not null)
        {
            throw new InvalidOperationException($"pg_ctl could not stop the server on port {Port}: {result.Output}");
        }
    }

    /// <summary>SIGSTOPs the postmaster, then each of its children.</summary>
    internal void Freeze()
    {
        if (IsFrozen)
        {
            return;
        }

        int pid = ReadPostmasterPid()
            ?? throw new InvalidOperationException($"The server on port {Port} is not running, so it cannot be frozen.");

        // Order matters: a stopped postmaster cannot fork new children, so the list read next is complete.
        Native.Signal(pid, Native.SigStop);
        List<int> frozen = [pid];
        foreach (int child in ProcessTable.GetChildren(pid))
        {
            if (Native.Signal(child, Native.SigStop))
            {
                frozen.Add(child);
            }
        }

        _frozenPids = [.. frozen];
    }

    /// <summary>SIGCONTs every process <see cref="Freeze"/> stopped and any current child of the postmaster.</summary>
    internal void Thaw()
    {
        int[] frozen = _frozenPids;
        if (frozen.Length == 0)
        {
            return;
        }

        HashSet<int> targets = [.. frozen, .. ProcessTable.GetChildren(frozen[0])];

        // Children first, the postmaster (frozen[0]) last: the reverse of Freeze.
        foreach (int pid in targets.Where(p => p != frozen[0]))
        {
            Native.Signal(pid, Native.SigCont);
        }

        Native.Signal(frozen[0], Native.SigCont);
        _frozenPids = [];
    }

    /// <summary>
    /// Stops the server immediately (killing it if pg_ctl fails) and deletes the directory. Never throws; returns
    /// a description of what could not be cleaned up, or null.
    /// </summary>
    internal async Task<string?> DestroyAsync()
    {
        LocalClusterRegistry.Unregister(this);
        string? problem = null;
        try
        {
            await StopAsync(immediate: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
        {
            problem = ex.Message;
            KillRemainingProcesses();
        }

        return DeleteDirectory() ?? problem;
    }

    /// <summary>
    /// Synchronous best-effort teardown for process exit: SIGCONT, SIGQUIT (immediate shutdown), SIGKILL if it
    /// lingers, then delete the directory. Never throws.
    /// </summary>
    internal void EmergencyTeardown()
    {
        try
        {
            foreach (int pid in _frozenPids)
            {
                Native.Signal(pid, Native.SigCont);
            }

            if (ReadPostmasterPid() is int postmaster)
            {
                Native.Signal(postmaster, Native.SigQuit);
                for (int i = 0; i < 40 && ProcessTable.IsAlive(postmaster); i++)
                {
                    Thread.Sleep(50);
                }
            }

            KillRemainingProcesses();
            DeleteDirectory();
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // Best effort: the process is exiting and there is nobody left to report to.
        }
    }

    private async Task InitializeAsync(int maxConnections, CancellationToken cancellationToken)
    {
        string passwordFile = Path.Combine(RootDirectory, "pwfile");
        await File.WriteAllTextAsync(passwordFile, Password + "\n", cancellationToken).ConfigureAwait(false);
        await ChownToServerUserAsync([RootDirectory, passwordFile], cancellationToken).ConfigureAwait(false);

        ProcessResult result = await RunAsServerUserAsync(
            _binaries.InitDb,
            [
                "-D", DataDirectory,
                "-U", ServerUser,
                "--pwfile=" + passwordFile,
                "--auth-local=trust", // the socket lives in a 0700 directory only the server user can enter
                "--auth-host=scram-sha-256",
                "-E", "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            _startTimeout,
            cancellationToken).ConfigureAwait(false);
        File.Delete(passwordFile);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"initdb failed with exit code {result.ExitCode}: {result.Output}");
        }

        // Our settings live in their own file, included last, so a port retry only rewrites that file.
        await File.AppendAllTextAsync(
            Path.Combine(DataDirectory, "postgresql.conf"),
            "\n# Added by PoolKit.Testing\ninclude 'poolkit.conf'\n",
            cancellationToken).ConfigureAwait(false);
        await WriteConfigAsync(maxConnections, ProbeFreePort(), cancellationToken).ConfigureAwait(false);
        await ChownToServerUserAsync([ConfigFile], cancellationToken).ConfigureAwait(false);
    }

    private async Task FirstStartAsync(int maxConnections, CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            long logOffset = LogLength();
            ProcessResult result = await RunPgCtlStartAsync(cancellationToken).ConfigureAwait(false);
            if (result.ExitCode == 0)
            {
                return;
            }

            string log = ReadLog(logOffset);
            bool portTaken = log.Contains("Address already in use", StringComparison.Ordinal)
                || log.Contains("could not create any TCP/IP sockets", StringComparison.Ordinal);

            // pg_ctl -w can give up while the postmaster still runs: make sure it is gone before retrying.
            await StopAsync(immediate: true, cancellationToken).ConfigureAwait(false);
            if (!portTaken || attempt == PortAttempts)
            {
                throw new InvalidOperationException(
                    $"pg_ctl could not start the server (attempt {attempt}, port {Port}): {result.Output}{Environment.NewLine}Server log:{Environment.NewLine}{log}");
            }

            // Another process took the port between the probe and the bind: probe again.
            await WriteConfigAsync(maxConnections, ProbeFreePort(), cancellationToken).ConfigureAwait(false);
        }
    }

    private Task<ProcessResult> RunPgCtlStartAsync(CancellationToken cancellationToken) => RunAsServerUserAsync(
        _binaries.PgCtl,
        ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", Seconds(_startTimeout), "-s"],
        _startTimeout + TimeSpan.FromSeconds(10),
        cancellationToken);

    private async Task WriteConfigAsync(int maxConnections, int port, CancellationToken cancellationToken)
    {
        Port = port;
        string socketDirectory = RootDirectory.Replace("'", "''", StringComparison.Ordinal);
        StringBuilder config = new();
        config.AppendLine("# Written by PoolKit.Testing for a throwaway test cluster.");
        config.AppendLine("listen_addresses = '127.0.0.1'");
        config.AppendLine(CultureInfo.InvariantCulture, $"port = {port}");
        config.AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{socketDirectory}'");
        config.AppendLine(CultureInfo.InvariantCulture, $"max_connections = {maxConnections}");
        config.AppendLine("password_encryption = 'scram-sha-256'");

        // Durability is worthless for a throwaway cluster; speed is not.
        config.AppendLine("fsync = off");
        config.AppendLine("synchronous_commit = off");
        config.AppendLine("full_page_writes = off");
        await File.WriteAllTextAsync(ConfigFile, config.ToString(), cancellationToken).ConfigureAwait(false);
    }

    private static int ProbeFreePort()
    {
        using TcpListener listener = new(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // PostgreSQL refuses to run as root: when root, it runs as the postgres OS user (see ServerUser).
    private Task<ProcessResult> RunAsServerUserAsync(
        string fileName,
        IReadOnlyList<string> arguments,
        TimeSpan timeout,
        CancellationToken cancellationToken) =>
        _runAsServerUser
            ? global::PoolKit.Testing.Internal.ServerUser.RunAsync(fileName, arguments, RootDirectory, timeout, cancellationToken)
            : ProcessRunner.RunAsync(fileName, arguments, RootDirectory, timeout, cancellationToken);

    private Task ChownToServerUserAsync(IReadOnlyList<string> paths, CancellationToken cancellationToken) =>
        _runAsServerUser
            ? global::PoolKit.Testing.Internal.ServerUser.ChownAsync(paths, RootDirectory, cancellationToken)
            : Task.CompletedTask;

    private void KillRemainingProcesses()
    {
        if (ReadPostmasterPid() is not int pid)
        {
            return;
        }

        foreach (int child in ProcessTable.GetChildren(pid))
        {
            Native.Signal(child, Native.SigKill);
        }

        Native.Signal(pid, Native.SigKill);
        for (int i = 0; i < 40 && ProcessTable.IsAlive(pid); i++)
        {
            Thread.Sleep(50);
        }
    }

    private string? DeleteDirectory() => ScratchDirectory.TryDelete(RootDirectory);

    private long LogLength()
    {
        FileInfo log = new(LogFile);
        return log.Exists ? log.Length : 0;
    }

    /// <summary>Reads the server log from <paramref name="offset"/>, at most its last 8 KB.</summary>
    internal string ReadLog(long offset = 0) => LogTail.Read(LogFile, offset, "server log");

    private static string Seconds(TimeSpan timeout) =>
        ((int)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
