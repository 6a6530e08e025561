using PoolKit.Cli;
using PoolKit.Cli.Infrastructure;
using Spectre.Console;

IAnsiConsole standardOutput = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
IAnsiConsole standardError = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
string? columns = Environment.GetEnvironmentVariable("COLUMNS");
ConsoleWidth.Apply(standardOutput, Console.IsOutputRedirected, columns);
ConsoleWidth.Apply(standardError, Console.IsErrorRedirected, columns);
var context = new CliContext
{
    Console = standardOutput,
    DiagnosticConsole = standardError,
    Output = Console.Out,
    Error = Console.Error,
};

using var shutdown = new ShutdownSignal(message => standardError.MarkupLineInterpolated($"[yellow]{message}[/]"));
return await CliApp.RunAsync(args, context, shutdown.Token);
