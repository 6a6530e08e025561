using System.Globalization;
using Spectre.Console;

namespace PoolKit.Cli.Demo;

/// <summary>Renders the demo's report as a table, with a line on what committed when the demo was stopped.</summary>
internal static class DemoReport
{
    /// <summary>Writes the table and the notes under it.</summary>
    /// <param name="console">Where to write.</param>
    /// <param name="result">The report.</param>
    public static void Write(IAnsiConsole console, DemoResult result)
    {
        DemoRunResult? baseline = result.Runs.FirstOrDefault(static r => r.Way == DemoWay.NpgsqlPool && r.Ran && r.RowsPerSecond > 0);
        bool fromServer = result.Runs.Any(static r => r.Ran && r.ConnectionsFromServer);
        var table = new Table()
            .Border(TableBorder.Rounded)
            .Title(string.Create(CultureInfo.InvariantCulture, $"The same inserts, {result.Parallelism} at a time: hand-written code on Npgsql against PoolKit"))
            .AddColumn("way")
            .AddColumn(new TableColumn("rows").RightAligned())
            .AddColumn(new TableColumn("seconds").RightAligned())
            .AddColumn(new TableColumn("rows/s").RightAligned())
            .AddColumn(new TableColumn("vs Npgsql pool").RightAligned())
            .AddColumn(new TableColumn("vs by hand").RightAligned())
            .AddColumn(new TableColumn(fromServer ? "connections" : "connections*").RightAligned())
            .AddColumn("table");

        foreach (DemoRunResult run in result.Runs)
        {
            if (!run.Ran)
            {
                table.AddRow(Markup.Escape(run.Label), "-", "-", "-", "-", "-", "-", "[grey]not run (stopped)[/]");
                continue;
            }

            double ratio = baseline is null ? 0 : run.RowsPerSecond / baseline.RowsPerSecond;
            string speedUp = baseline is null ? "-" : ratio < 0.1 ? Format($"{ratio:0.000}x") : Format($"{ratio:0.0}x");
            table.AddRow(
                Markup.Escape(run.Label),
                Format($"{run.Committed:N0}"),
                Format($"{run.Elapsed.TotalSeconds:0.00}"),
                Format($"{run.RowsPerSecond:N0}"),
                speedUp,
                VersusByHand(result, run),
                Format($"{run.ConnectionsOpened:N0}"),
                Check(run));
        }

        console.Write(table);
        console.MarkupLine("[grey]conn per insert: each insert opens (or leases) a connection, autocommits, closes it. Pools: defaults, same max.[/]");
        console.MarkupLine("[grey]runner: ParallelBatchRunner, a transaction per insert or per chunk, every row's outcome known. no pool: a sample, a new connection each.[/]");
        console.MarkupLine("[grey]vs by hand: the runner against the best hand-written code for the same job (conn per insert on Npgsql's pool; chunked INSERT; one COPY stream).[/]");
        if (fromServer)
        {
            console.MarkupLine("[grey]connections: opened on the server (change of pg_stat_database.sessions once the way's sessions closed).[/]");
        }
        else
        {
            console.MarkupLine("[grey]connections*: opened by the client, counted client-side (the server is older than PostgreSQL 14: no pg_stat_database.sessions).[/]");
        }

        foreach (DemoRunResult run in result.Runs.Where(static r => r.Error is not null))
        {
            console.MarkupLineInterpolated($"[red]{run.Label}: stopped by an error:[/] {run.Error}");
        }

        if (result.Canceled)
        {
            foreach (DemoRunResult run in result.Runs.Where(static r => r.Ran && r.Canceled))
            {
                console.MarkupLineInterpolated(
                    $"[yellow]Stopped by Ctrl+C during \"{run.Label}\": {run.Committed:N0} of {run.RequestedRows:N0} inserts committed, and the table held {run.TableRows:N0} rows.[/]");
            }
        }
    }

    /// <summary>A runner way's speed against the hand-written anchor of its job, or "-" for the anchors themselves.</summary>
    private static string VersusByHand(DemoResult result, DemoRunResult run)
    {
        DemoWay? anchor = run.Way switch
        {
            DemoWay.PoolPerInsert => DemoWay.NpgsqlPool,
            DemoWay.PoolChunked or DemoWay.PoolInsert => DemoWay.HandChunked,
            DemoWay.PoolCopy => DemoWay.HandCopy,
            _ => null,
        };
        DemoRunResult? by = anchor is null ? null : result.Runs.FirstOrDefault(r => r.Way == anchor && r.Ran && r.RowsPerSecond > 0);
        return by is null ? "-" : Format($"{run.RowsPerSecond / by.RowsPerSecond:0.00}x");
    }

    private static string Check(DemoRunResult run)
    {
        if (!run.TableCheckPassed)
        {
            return Format($"[red]FAIL: {run.TableRows:N0} rows, {run.DistinctIds:N0} distinct, {run.Committed:N0} committed[/]");
        }

        return run.Canceled
            ? Format($"[yellow]ok: {run.TableRows:N0} = committed[/]")
            : Format($"[green]ok: {run.TableRows:N0} distinct[/]");
    }

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
