using PoolKit.Cli.Infrastructure;
using Spectre.Console.Testing;

namespace PoolKit.Cli.Tests;

/// <summary>Runs the poolkit command line in-process with a test console and captured standard output and error.</summary>
internal sealed class CliHarness
{
    /// <summary>The bound of any one command run in these tests.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public CliHarness(Func<string, string?>? environment = null)
    {
        Console = new TestConsole();
        Console.Profile.Width = 200;
        Diagnostics = new TestConsole();
        Diagnostics.Profile.Width = 200;
        Context = new CliContext
        {
            Console = Console,
            DiagnosticConsole = Diagnostics,
            Output = Output,
            Error = Error,
            // No POOLKIT_CONNECTION_STRING from the machine leaks into a test unless the test gives one.
            GetEnvironmentVariable = environment ?? (name => name == ServerOptions.EnvironmentVariable ? null : Environment.GetEnvironmentVariable(name)),
        };
    }

    public TestConsole Console { get; }

    public TestConsole Diagnostics { get; }

    public StringWriter Output { get; } = new();

    public StringWriter Error { get; } = new();

    public CliContext Context { get; }

    /// <summary>Everything the command wrote, to check that no secret leaked anywhere.</summary>
    public string Everything => Console.Output + Diagnostics.Output + Output + Error;

    public async Task<int> RunAsync(params string[] args) => await RunAsync(args, CancellationToken.None);

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken) =>
        await CliApp.RunAsync(args, Context, cancellationToken).WaitAsync(Limit, CancellationToken.None);

    /// <summary>Asserts the run failed the way a user should see it: one line on standard error, no stack trace.</summary>
    public string AssertOneLineError()
    {
        string[] lines = Error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines).TrimEnd('\r');
        Assert.StartsWith("poolkit: error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", Everything, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception:", line, StringComparison.Ordinal);
        return line;
    }
}
