using System.CommandLine;
using System.Globalization;
using Npgsql;
using PoolKit.Cli.Infrastructure;
using PoolKit.Cli.Sizing;
using PoolKit.Npgsql;
using Spectre.Console;

namespace PoolKit.Cli.Commands;

/// <summary><c>poolkit size</c>: measures a workload at a series of pool sizes and recommends the smallest good one.</summary>
internal static class SizeCommand
{
    /// <summary>Builds the command.</summary>
    /// <param name="context">Where it writes.</param>
    /// <returns>The command.</returns>
    public static Command Create(CliContext context)
    {
        var server = new ServerArguments();
        var sizes = new Option<string>("--sizes", "-s")
        {
            Description = "Pool sizes (MaxSize) to measure, comma-separated.",
            DefaultValueFactory = static _ => "1,2,4,8,16,32",
            HelpName = "list",
        };
        var clients = new Option<int>("--clients")
        {
            Description = "Clients running the workload at once at every size (they queue for the pool when it is smaller).",
            DefaultValueFactory = static _ => 32,
            HelpName = "N",
        };
        var duration = new Option<double>("--duration", "-d")
        {
            Description = "Seconds measured at each size.",
            DefaultValueFactory = static _ => 5,
            HelpName = "seconds",
        };
        var warmup = new Option<double>("--warmup")
        {
            Description = "Seconds run at each size before measuring (opens the connections, warms caches).",
            DefaultValueFactory = static _ => 1,
            HelpName = "seconds",
        };
        var tolerance = new Option<double>("--tolerance")
        {
            Description = "Recommend the smallest size whose throughput is within this many percent of the best.",
            DefaultValueFactory = static _ => 5,
            HelpName = "percent",
        };
        var sql = new Option<string?>("--sql")
        {
            Description = "A file of SQL to run as one transaction per operation, instead of the built-in read/write transaction "
                + "(update a random account, select it, insert a history row, on a scratch schema created and dropped by the command).",
            HelpName = "file",
        };
        var accounts = new Option<int>("--accounts")
        {
            Description = "Account rows of the built-in workload's scratch schema.",
            DefaultValueFactory = static _ => 10_000,
            HelpName = "N",
        };
        var reset = new Option<NpgsqlResetMode>("--reset")
        {
            Description = "How the pool resets a returned connection: Discard (the pool's default: ROLLBACK if needed + DISCARD ALL, one round trip per return), "
                + "RollbackOnly (a round trip only if a transaction was left open), or None.",
            DefaultValueFactory = static _ => NpgsqlResetMode.Discard,
            HelpName = "mode",
        };
        var json = new Option<string?>("--json")
        {
            Description = "Write the results as JSON to this file, or to standard output with '-' (the table then goes to standard error).",
            HelpName = "file|-",
        };
        var plot = new Option<string?>("--plot")
        {
            Description = "Draw throughput and p99 latency against pool size into this PNG file.",
            HelpName = "file.png",
        };

        var command = new Command(
            "size",
            "Find the right pool size instead of guessing: run a workload at a series of pool sizes, measure throughput and p50/p99 latency "
            + "at each, and recommend the smallest size within --tolerance of the best throughput.")
        {
            sizes,
            clients,
            duration,
            warmup,
            tolerance,
            sql,
            accounts,
            reset,
            json,
            plot,
        };
        server.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliApp.GuardAsync(context, () =>
        {
            var options = new SizeOptions
            {
                Sizes = ParseSizes(parse.GetValue(sizes)!),
                Clients = parse.GetValue(clients),
                Duration = Seconds(parse.GetValue(duration), "--duration"),
                Warmup = Seconds(parse.GetValue(warmup), "--warmup"),
                TolerancePercent = parse.GetValue(tolerance),
                SqlFile = parse.GetValue(sql),
                Accounts = parse.GetValue(accounts),
                ResetMode = parse.GetValue(reset),
            };
            var outputs = new SizeOutputs(parse.GetValue(json), parse.GetValue(plot));
            int maxConnections = Math.Max(20, options.Sizes.DefaultIfEmpty(0).Max() + 10);
            return RunAsync(options, outputs, server.Read(parse, context, maxConnections), context, cancellationToken);
        }, cancellationToken));
        return command;
    }

    /// <summary>Validates, provides the server, measures, prints the table and writes the JSON and the plot.</summary>
    /// <param name="options">The sizing settings.</param>
    /// <param name="outputs">Where the JSON and the plot go.</param>
    /// <param name="serverOptions">Where the server comes from.</param>
    /// <param name="context">Where to write.</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunAsync(SizeOptions options, SizeOutputs outputs, ServerOptions serverOptions, CliContext context, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new CliException(string.Join(" ", problems));
        }

        ISizingWorkload workload = options.SqlFile is { } file
            ? SqlFileWorkload.Load(file)
            : new PgbenchLikeWorkload(options.Accounts);
        IAnsiConsole console = outputs.JsonToStandardOutput ? context.DiagnosticConsole : context.Console;

        await using DatabaseServer server = await DatabaseServer.AcquireAsync(serverOptions, console, cancellationToken);
        SizeResult result;
        try
        {
            result = await new SizeRunner(options, workload, console).RunAsync(server.ConnectionString, server.Description, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ErrorMessages.Describe(ex, server.Description), ex);
        }

        SizeReport.Write(console, result);
        outputs.Write(result, context, console);
        return result.Canceled ? ExitCodes.Canceled : result.Recommendation is null ? ExitCodes.Failure : ExitCodes.Success;
    }

    /// <summary>Parses <c>--sizes</c>.</summary>
    /// <param name="value">Comma-separated sizes.</param>
    /// <returns>The sizes.</returns>
    /// <exception cref="CliException">A part is not a whole number.</exception>
    public static int[] ParseSizes(string value)
    {
        string[] parts = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sizes = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]))
            {
                throw new CliException($"--sizes has '{parts[i]}', which is not a whole number; give sizes like --sizes 1,2,4,8.");
            }
        }

        return sizes;
    }

    private static TimeSpan Seconds(double seconds, string option) =>
        double.IsFinite(seconds) && Math.Abs(seconds) < 86_400
            ? TimeSpan.FromSeconds(seconds)
            : throw new CliException($"{option} is {seconds.ToString(CultureInfo.InvariantCulture)}; give a number of seconds below one day.");
}
