using System.Globalization;
using Spectre.Console;

namespace PoolKit.Cli.Sizing;

/// <summary>Renders the sizing report as a table with the recommendation under it.</summary>
internal static class SizeReport
{
    /// <summary>Writes the table and the recommendation.</summary>
    /// <param name="console">Where to write.</param>
    /// <param name="result">The report.</param>
    public static void Write(IAnsiConsole console, SizeResult result)
    {
        var table = new Table()
            .Border(TableBorder.Rounded)
            .Title(Format($"{result.Clients} clients, {result.Duration.TotalSeconds:0.#} s per size after {result.Warmup.TotalSeconds:0.#} s warm-up"))
            .AddColumn(new TableColumn("pool size").RightAligned())
            .AddColumn(new TableColumn("transactions").RightAligned())
            .AddColumn(new TableColumn("tx/s").RightAligned())
            .AddColumn(new TableColumn("p50 ms").RightAligned())
            .AddColumn(new TableColumn("p99 ms").RightAligned())
            .AddColumn(new TableColumn("errors").RightAligned())
            .AddColumn(string.Empty);

        foreach (SizeMeasurement m in result.Measurements)
        {
            string note = result.Recommendation switch
            {
                { } r when r.RecommendedPoolSize == m.PoolSize && r.BestPoolSize == m.PoolSize => "[green]recommended (best)[/]",
                { } r when r.RecommendedPoolSize == m.PoolSize => "[green]recommended[/]",
                { } r when r.BestPoolSize == m.PoolSize => "best",
                _ => string.Empty,
            };
            table.AddRow(
                Format($"{m.PoolSize}"),
                Format($"{m.Transactions:N0}"),
                Format($"{m.Throughput:N0}"),
                Format($"{m.P50Milliseconds:0.00}"),
                Format($"{m.P99Milliseconds:0.00}"),
                Format($"{m.Errors:N0}"),
                note);
        }

        console.MarkupLineInterpolated($"[grey]workload:[/] {result.Workload}; reset on return: {result.ResetMode}");
        console.Write(table);
        if (result.Recommendation is { } pick)
        {
            console.MarkupLine(Format(
                $"[bold]Recommended MaxSize: {pick.RecommendedPoolSize}[/] ({pick.RecommendedThroughput:N0} tx/s, within {result.TolerancePercent:0.#}% of the best, {pick.BestThroughput:N0} tx/s at {pick.BestPoolSize})."));
        }
        else
        {
            console.MarkupLine("[yellow]No size was measured to the end: no recommendation.[/]");
        }

        if (result.Canceled)
        {
            console.MarkupLine("[yellow]Stopped by Ctrl+C: only the sizes measured to the end are shown.[/]");
        }
    }

    private static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
