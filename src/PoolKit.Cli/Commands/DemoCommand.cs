using System.CommandLine;
using Npgsql;
using PoolKit.Cli.Demo;
using PoolKit.Cli.Infrastructure;

namespace PoolKit.Cli.Commands;

/// <summary><c>poolkit demo</c>: the same inserts without a pool, with PoolKit per insert, and with PoolKit in chunks.</summary>
internal static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="context">Where it writes.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext context)
    {
        var server = new ServerArguments();
        var rows = new Option<int>("--rows", "-n")
        {
            Description = "Rows each way inserts (N independent single-row INSERTs).",
            DefaultValueFactory = static _ => 20_000,
            HelpName = "N",
        };
        var parallelism = new Option<int>("--parallelism", "-p")
        {
            Description = "Inserts running at once in every way; also the pool's MaxSize.",
            DefaultValueFactory = static _ => 8,
            HelpName = "N",
        };
        var noPoolRows = new Option<int>("--no-pool-rows")
        {
            Description = "Rows the no-pool sample inserts (a new physical connection per insert is slow); 0 skips it.",
            DefaultValueFactory = static _ => 500,
            HelpName = "N",
        };
        var chunk = new Option<int>("--chunk")
        {
            Description = "Inserts per transaction in the chunked batch-runner way.",
            DefaultValueFactory = static _ => 1_000,
            HelpName = "N",
        };

        var command = new Command(
            "demo",
            "Insert N rows the way a service does (a connection per insert) on Npgsql's default pool and on PoolKit's, then with PoolKit's batch runner "
            + "(one insert, and a chunk of inserts, per transaction), and a small sample without a pool. Shows rows/s, the ratio to Npgsql's pool, connections opened "
            + "on the server, and checks the table after each. Ctrl+C stops cleanly.")
        {
            rows,
            noPoolRows,
            parallelism,
            chunk,
        };
        server.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliApp.GuardAsync(context, () =>
        {
            var options = new DemoOptions
            {
                Rows = parse.GetValue(rows),
                NoPoolRows = parse.GetValue(noPoolRows),
                Parallelism = parse.GetValue(parallelism),
                ChunkSize = parse.GetValue(chunk),
            };
            return RunAsync(options, server.Read(parse, context, Math.Max(20, options.Parallelism + 10)), context, cancellationToken);
        }, cancellationToken));
        return command;
    }

    /// <summary>Validates, provides the server, runs the demo, prints the report and removes what it made.</summary>
    /// <param name="options">The demo's settings.</param>
    /// <param name="serverOptions">Where the server comes from.</param>
    /// <param name="context">Where to write.</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    /// <returns>The exit code: 0 when every way committed every row and passed its check, 130 when stopped, else 1.</returns>
    public static async Task<int> RunAsync(DemoOptions options, ServerOptions serverOptions, CliContext context, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new CliException(string.Join(" ", problems));
        }

        await using DatabaseServer server = await DatabaseServer.AcquireAsync(serverOptions, context.Console, cancellationToken);
        DemoResult result;
        try
        {
            result = await new DemoRunner(options, context.Console).RunAsync(server.ConnectionString, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ErrorMessages.Describe(ex, server.Description), ex);
        }

        DemoReport.Write(context.Console, result);
        return result.Canceled ? ExitCodes.Canceled : result.Succeeded ? ExitCodes.Success : ExitCodes.Failure;
    }
}
