namespace PoolKit.Cli.Infrastructure;

/// <summary>The process exit codes of the <c>poolkit</c> command.</summary>
internal static class ExitCodes
{
    /// <summary>Everything ran and every check held.</summary>
    public const int Success = 0;

    /// <summary>A run failed, a check did not hold, or the server could not be used.</summary>
    public const int Failure = 1;

    /// <summary>The command line is invalid (unknown option, bad value).</summary>
    public const int Usage = 2;

    /// <summary>Stopped by Ctrl+C (or SIGTERM): 128 + SIGINT, as shells report it.</summary>
    public const int Canceled = 130;
}
