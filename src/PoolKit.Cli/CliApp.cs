using System.CommandLine;
using System.CommandLine.Help;
using PoolKit.Cli.Commands;
using PoolKit.Cli.Infrastructure;

namespace PoolKit.Cli;

/// <summary>
/// The <c>poolkit</c> command line: parses the arguments, runs the chosen command, and turns every failure into one
/// line on standard error (prefixed <c>poolkit: error:</c>) and a non-zero exit code, never a stack trace.
/// </summary>
internal static class CliApp
{
    /// <summary>Builds the root command with its subcommands.</summary>
    /// <param name="context">Where the commands write.</param>
    /// <returns>The root command.</returns>
    public static Command CreateRootCommand(CliContext context)
    {
        // A plain command named "poolkit" rather than RootCommand, whose name is the executable's (PoolKit.Cli): the
        // assembly cannot be called poolkit, since assembly names are case-insensitive and PoolKit.dll is beside it.
        var root = new Command("poolkit", "poolkit: see what a connection pool buys you on PostgreSQL, and find the right pool size.")
        {
            DemoCommand.Create(context),
            SizeCommand.Create(context),
        };
        root.Options.Add(new HelpOption());
        root.Options.Add(new VersionOption());
        return root;
    }

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="context">Where to write.</param>
    /// <param name="cancellationToken">Stops the run cleanly (Ctrl+C).</param>
    /// <returns>The exit code (see <see cref="ExitCodes"/>).</returns>
    public static async Task<int> RunAsync(string[] args, CliContext context, CancellationToken cancellationToken)
    {
        ParseResult parse = CreateRootCommand(context).Parse(args);
        if (parse.Errors.Count > 0)
        {
            string errors = string.Join("; ", parse.Errors.Select(static e => e.Message.TrimEnd('.')));
            await WriteErrorAsync(context, $"{errors}. Run 'poolkit --help' (or 'poolkit <command> --help') to see the options.");
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = context.Output,
            Error = context.Error,
            // Ctrl+C is ours (ShutdownSignal): the run must finish its clean-up, however long that takes.
            ProcessTerminationTimeout = null,
            EnableDefaultExceptionHandler = false,
        };
        return await parse.InvokeAsync(configuration, cancellationToken);
    }

    /// <summary>Runs a command's body, mapping its failures to one line on standard error and an exit code.</summary>
    /// <param name="context">Gives standard error.</param>
    /// <param name="cancellationToken">Ctrl+C, to tell a stop from a failure.</param>
    /// <param name="body">The command's work; returns its exit code.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> GuardAsync(CliContext context, Func<Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await WriteErrorAsync(context, "stopped by Ctrl+C before the run started; nothing was written.");
            return ExitCodes.Canceled;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The one place every failure ends up: one line, no stack trace, no password.
            await WriteErrorAsync(context, ErrorMessages.Describe(ex, server: null));
            return ExitCodes.Failure;
        }
    }

    private static async Task WriteErrorAsync(CliContext context, string message)
    {
        await context.Error.WriteLineAsync("poolkit: error: " + message.ReplaceLineEndings(" "));
        await context.Error.FlushAsync();
    }
}
