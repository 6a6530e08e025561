using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Npgsql;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>
/// Runs pgbench against the same server as the server's ceiling: every client keeps one connection and sends the
/// query back to back from C, with no .NET, no pool and no per-operation open.
/// </summary>
public sealed partial class PgBench
{
    private const string DefaultPath = "/usr/bin/pgbench";

    private readonly string _path;
    private readonly NpgsqlConnectionStringBuilder _connection;
    private readonly string _workload;
    private string? _scriptPath;

    private PgBench(string path, string connectionString, string workload)
    {
        _path = path;
        _connection = new NpgsqlConnectionStringBuilder(connectionString);
        _workload = workload;
    }

    /// <summary>Gets the row name in the results table.</summary>
    public string Name => _workload == "select1" ? "pgbench ceiling (SELECT 1 script)" : "pgbench ceiling (-S select-only)";

    /// <summary>Finds pgbench; <see langword="null"/> and a reason when it is absent.</summary>
    public static PgBench? TryCreate(string connectionString, string workload, out string? whyNot)
    {
        string? path = File.Exists(DefaultPath) ? DefaultPath : FindOnPath("pgbench");
        if (path is null)
        {
            whyNot = $"pgbench row skipped: pgbench is not at {DefaultPath} nor on PATH (Debian package postgresql-client)";
            return null;
        }

        whyNot = null;
        return new PgBench(path, connectionString, workload);
    }

    /// <summary>Prepares the workload: writes the SELECT 1 script, or initializes pgbench's tables for <c>-S</c>.</summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (_workload == "select1")
        {
            _scriptPath = Path.Combine(Path.GetTempPath(), $"poolkit-e2e-select1-{Environment.ProcessId}.sql");
            await File.WriteAllTextAsync(_scriptPath, "SELECT 1;\n", cancellationToken).ConfigureAwait(false);
            return;
        }

        await RunAsync(["-i", "-s", "1", "-q"], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs pgbench for <paramref name="duration"/> with <paramref name="clients"/> clients.</summary>
    /// <returns>Transactions per second, excluding the initial connection time.</returns>
    public async Task<double> MeasureAsync(int clients, TimeSpan duration, CancellationToken cancellationToken)
    {
        int threads = Math.Min(clients, Environment.ProcessorCount);
        List<string> arguments =
        [
            "-n", "-c", clients.ToString(CultureInfo.InvariantCulture), "-j", threads.ToString(CultureInfo.InvariantCulture),
            "-T", ((int)Math.Ceiling(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture),
        ];
        arguments.AddRange(_scriptPath is null ? ["-S"] : ["-f", _scriptPath]);
        string output = await RunAsync(arguments, cancellationToken).ConfigureAwait(false);
        Match match = TpsPattern().Match(output);
        return match.Success
            ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"could not read the tps from pgbench's output:\n{output}");
    }

    /// <summary>Removes the script file.</summary>
    public void Cleanup()
    {
        if (_scriptPath is not null)
        {
            File.Delete(_scriptPath);
        }
    }

    private async Task<string> RunAsync(IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-h");
        start.ArgumentList.Add(_connection.Host ?? "localhost");
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add(_connection.Port.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("-U");
        start.ArgumentList.Add(_connection.Username ?? "postgres");
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add(_connection.Database ?? "postgres");

        // The password goes through the environment, never the command line (visible in ps).
        if (!string.IsNullOrEmpty(_connection.Password))
        {
            start.Environment["PGPASSWORD"] = _connection.Password;
        }

        start.Environment["LC_ALL"] = "C";
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("pgbench did not start");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        Task<string> stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        string output = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"pgbench exited with {process.ExitCode}:\n{output}");
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    [GeneratedRegex(@"tps = ([0-9.]+) \(without initial connection time\)")]
    private static partial Regex TpsPattern();
}
