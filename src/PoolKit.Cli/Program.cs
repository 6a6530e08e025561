using PoolKit.Cli;
using PoolKit.Cli.Infrastructure;
using Spectre.Console;

IAnsiConsole standardOutput = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
IAnsiConsole standardError = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
var context = new CliContext
{
    Console = standardOutput,
    DiagnosticConsole = standardError,
    Output = Console.Out,
    Error = Console.Error,
};

using var shutdown = new ShutdownSignal(message => standardError.MarkupLineInterpolated($"[yellow]{message}[/]"));
return await CliApp.RunAsync(args, context, shutdown.Token);
