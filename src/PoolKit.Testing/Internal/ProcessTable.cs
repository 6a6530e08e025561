using System.Globalization;

namespace PoolKit.Testing.Internal;

/// <summary>Reads the Linux process table under /proc.</summary>
internal static class ProcessTable
{
    /// <summary>Gets whether a process with this id exists and is not a zombie.</summary>
    internal static bool IsAlive(int pid)
    {
        string? state = ReadStat(pid, out _);
        return state is not null && state != "Z" && state != "X";
    }

    /// <summary>Gets the ids of the direct children of <paramref name="parentPid"/>.</summary>
    internal static List<int> GetChildren(int parentPid)
    {
        List<int> children = [];
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                continue;
            }

            if (ReadStat(pid, out int ppid) is not null && ppid == parentPid)
            {
                children.Add(pid);
            }
        }

        return children;
    }

    /// <summary>Reads the state letter and the parent id from /proc/&lt;pid&gt;/stat; null when the process is gone.</summary>
    private static string? ReadStat(int pid, out int parentPid)
    {
        parentPid = 0;
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) state ppid ...": comm may contain spaces and parentheses, so parse after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        string[] fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 2 || !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out parentPid))
        {
            return null;
        }

        return fields[0];
    }
}
