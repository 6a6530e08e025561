namespace PoolKit.Testing.Internal;

/// <summary>
/// Runs server programs (PostgreSQL, PgBouncer) as the <c>postgres</c> OS user when this process is root: both
/// refuse to run as root. Otherwise they run as the current user.
/// </summary>
internal static class ServerUser
{
    /// <summary>The OS user the servers run as when this process is root.</summary>
    internal const string Name = "postgres";

    /// <summary>Runs <paramref name="fileName"/> (as the server user when root), bounded by <paramref name="timeout"/>.</summary>
    internal static Task<ProcessResult> RunAsync(
        string fileName,
        IReadOnlyList<string> arguments,
        string workingDirectory,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        if (!Native.IsRoot)
        {
            return ProcessRunner.RunAsync(fileName, arguments, workingDirectory, timeout, cancellationToken);
        }

        return ProcessRunner.RunAsync(
            FindRunUser(), ["-u", Name, "--", fileName, .. arguments], workingDirectory, timeout, cancellationToken);
    }

    /// <summary>Gives <paramref name="paths"/> to the server user when root; does nothing otherwise.</summary>
    internal static async Task ChownAsync(IReadOnlyList<string> paths, string workingDirectory, CancellationToken cancellationToken)
    {
        if (!Native.IsRoot)
        {
            return;
        }

        ProcessResult result = await ProcessRunner.RunAsync(
            "chown", [Name + ":", .. paths], workingDirectory, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"This process runs as root, so the server's files must belong to the '{Name}' OS user, but chown failed: {result.Output} "
                + "Create the user (installing the 'postgresql' package does) or run the tests as a non-root user.");
        }
    }

    private static string FindRunUser()
    {
        foreach (string candidate in new[] { "/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "This process runs as root and PostgreSQL and PgBouncer refuse to run as root, but 'runuser' (util-linux) was not found to run them as the 'postgres' user.");
    }
}
