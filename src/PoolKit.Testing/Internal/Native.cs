using System.Runtime.InteropServices;

namespace PoolKit.Testing.Internal;

/// <summary>The few libc calls the local cluster needs (Linux only).</summary>
internal static partial class Native
{
    // Linux signal numbers (x86-64 and arm64 agree on these).
    internal const int SigKill = 9;
    internal const int SigQuit = 3;
    internal const int SigTerm = 15;
    internal const int SigCont = 18;
    internal const int SigStop = 19;

    /// <summary>ESRCH: no such process.</summary>
    internal const int NoSuchProcess = 3;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserIdNative();

    /// <summary>Gets whether this process runs as root (effective uid 0).</summary>
    internal static bool IsRoot => OperatingSystem.IsLinux() && GetEffectiveUserIdNative() == 0;

    /// <summary>Sends <paramref name="signal"/> to one process; returns false when the process does not exist.</summary>
    /// <exception cref="InvalidOperationException">The signal could not be sent for another reason.</exception>
    internal static bool Signal(int pid, int signal)
    {
        if (pid <= 0)
        {
            // kill(0, ...) and kill(-n, ...) address process groups: never do that by accident.
            throw new InvalidOperationException($"Refusing to signal process id {pid}: this is a bug in PoolKit.Testing.");
        }

        if (KillNative(pid, signal) == 0)
        {
            return true;
        }

        int error = Marshal.GetLastPInvokeError();
        if (error == NoSuchProcess)
        {
            return false;
        }

        throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {error}.");
    }
}
