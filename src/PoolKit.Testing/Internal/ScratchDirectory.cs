namespace PoolKit.Testing.Internal;

/// <summary>Deletes the directory a test server lived in, retrying while the files of a process that just exited close.</summary>
internal static class ScratchDirectory
{
    /// <summary>Deletes <paramref name="path"/> with everything in it, up to five tries. Never throws.</summary>
    /// <param name="path">The directory.</param>
    /// <returns><see langword="null"/> when it is gone, otherwise why it could not be deleted.</returns>
    internal static string? TryDelete(string path)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }

                return null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (attempt == 5)
                {
                    return $"Could not delete {path}: {ex.Message}";
                }

                // A process that just exited may still be closing files in the directory.
                Thread.Sleep(100 * attempt);
            }
        }
    }
}
