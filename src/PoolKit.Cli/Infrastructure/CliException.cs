namespace PoolKit.Cli.Infrastructure;

/// <summary>
/// A failure the user can act on: its message is one line that says what went wrong and what to do, and is printed
/// as it is, without a stack trace.
/// </summary>
internal sealed class CliException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">One line: what went wrong and what to do. Never a password.</param>
    /// <param name="innerException">The cause, kept for debugging; never printed.</param>
    public CliException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
