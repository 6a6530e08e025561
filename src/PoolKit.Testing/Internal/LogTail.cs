namespace PoolKit.Testing.Internal;

/// <summary>Reads what a server process wrote to its log file, for the messages of a failed start or stop.</summary>
internal static class LogTail
{
    private const int MaxBytes = 8192;

    /// <summary>Reads <paramref name="path"/> from <paramref name="offset"/>, at most its last 8 KB.</summary>
    /// <param name="path">The log file, which the server may still be writing.</param>
    /// <param name="offset">Where the part of interest starts (the length before the action that failed).</param>
    /// <param name="what">What the log is, for the message when it cannot be read ("server log").</param>
    public static string Read(string path, long offset, string what)
    {
        try
        {
            using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Position = Math.Max(offset, stream.Length - MaxBytes);
            using StreamReader reader = new(stream);
            return reader.ReadToEnd();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"({what} {path} unreadable: {ex.Message})";
        }
    }
}
