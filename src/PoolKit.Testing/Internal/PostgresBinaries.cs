using System.Globalization;

namespace PoolKit.Testing.Internal;

/// <summary>A directory holding initdb, pg_ctl and postgres of one PostgreSQL installation.</summary>
internal sealed class PostgresBinaries
{
    /// <summary>Where Debian and Ubuntu install the server binaries, one directory per major version.</summary>
    internal const string DebianRoot = "/usr/lib/postgresql";

    private PostgresBinaries(string directory)
    {
        Directory = directory;
    }

    /// <summary>Gets the directory holding the three binaries.</summary>
    internal string Directory { get; }

    /// <summary>Gets the path of initdb.</summary>
    internal string InitDb => Path.Combine(Directory, "initdb");

    /// <summary>Gets the path of pg_ctl.</summary>
    internal string PgCtl => Path.Combine(Directory, "pg_ctl");

    /// <summary>
    /// Finds the first directory of <paramref name="searchPaths"/> (or of the default search order) that holds all
    /// three binaries; null when none does.
    /// </summary>
    internal static PostgresBinaries? Find(IReadOnlyList<string>? searchPaths, Func<string, string?> getEnvironmentVariable)
    {
        foreach (string directory in searchPaths ?? DefaultSearchPaths(getEnvironmentVariable))
        {
            if (IsExecutable(Path.Combine(directory, "initdb"))
                && IsExecutable(Path.Combine(directory, "pg_ctl"))
                && IsExecutable(Path.Combine(directory, "postgres")))
            {
                return new PostgresBinaries(Path.GetFullPath(directory));
            }
        }

        return null;
    }

    /// <summary>The directories on PATH, then /usr/lib/postgresql/&lt;version&gt;/bin, highest version first.</summary>
    internal static IEnumerable<string> DefaultSearchPaths(Func<string, string?> getEnvironmentVariable)
    {
        string? path = getEnvironmentVariable("PATH");
        if (!string.IsNullOrEmpty(path))
        {
            foreach (string directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            {
                yield return directory;
            }
        }

        if (!System.IO.Directory.Exists(DebianRoot))
        {
            yield break;
        }

        // Versions are "15", "16", or old-style "9.6": order them numerically, not as strings.
        IEnumerable<(Version Version, string Directory)> versions = System.IO.Directory.EnumerateDirectories(DebianRoot)
            .Select(d => (Parsed: TryParseVersion(Path.GetFileName(d)), Directory: d))
            .Where(v => v.Parsed is not null)
            .Select(v => (v.Parsed!, v.Directory))
            .OrderByDescending(v => v.Item1);
        foreach ((Version _, string directory) in versions)
        {
            yield return Path.Combine(directory, "bin");
        }
    }

    private static Version? TryParseVersion(string name)
    {
        if (int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int major))
        {
            return new Version(major, 0);
        }

        return Version.TryParse(name, out Version? version) ? version : null;
    }

    private static bool IsExecutable(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        const UnixFileMode AnyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & AnyExecute) != 0;
    }
}
