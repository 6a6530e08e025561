using Spectre.Console;

namespace PoolKit.Cli.Infrastructure;

/// <summary>
/// Where the command writes and what it reads from its surroundings. <see cref="Program"/> wires the real console;
/// tests pass Spectre's test console and string writers, and run the command in-process.
/// </summary>
internal sealed class CliContext
{
    /// <summary>Gets or sets the console for progress bars, tables and notes.</summary>
    /// <value>Default: standard output.</value>
    public required IAnsiConsole Console { get; init; }

    /// <summary>Gets or sets the console used instead of <see cref="Console"/> when standard output carries JSON (<c>--json -</c>).</summary>
    /// <value>Default: standard error.</value>
    public required IAnsiConsole DiagnosticConsole { get; init; }

    /// <summary>Gets or sets standard output, for help text and JSON.</summary>
    public required TextWriter Output { get; init; }

    /// <summary>Gets or sets standard error, for the one-line error messages.</summary>
    public required TextWriter Error { get; init; }

    /// <summary>Gets or sets how environment variables are read.</summary>
    /// <value>Default <see cref="Environment.GetEnvironmentVariable(string)"/>.</value>
    public Func<string, string?> GetEnvironmentVariable { get; init; } = Environment.GetEnvironmentVariable;
}
