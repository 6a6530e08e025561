using System.Globalization;
using System.Text;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>Formats the results as one table (console or Markdown) and as CSV.</summary>
public static class ResultTable
{
    private static readonly string[] s_headers = ["scenario", "concurrency", "ops/s (median)", "min..max", "B/op", "server sessions", "ratio"];

    /// <summary>Builds the table's rows: each comparing row carries its ratio to each of its anchors at the same concurrency.</summary>
    public static List<string[]> Rows(IReadOnlyList<ScenarioResult> results)
    {
        var rows = new List<string[]>();
        foreach (ScenarioResult r in results.OrderBy(static r => r.Concurrency))
        {
            IEnumerable<string> ratios = r.ComparedWith
                .Select(anchor => results.FirstOrDefault(a => a.Scenario == anchor && a.Concurrency == r.Concurrency))
                .Where(static a => a is not null && a.OpsPerSecond > 0)
                .Select(a => string.Create(CultureInfo.InvariantCulture, $"{r.OpsPerSecond / a!.OpsPerSecond:0.00}x {a.Scenario}"));
            rows.Add(
            [
                r.Scenario,
                r.Concurrency.ToString(CultureInfo.InvariantCulture),
                r.OpsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                string.Create(CultureInfo.InvariantCulture, $"{r.MinOpsPerSecond:N0}..{r.MaxOpsPerSecond:N0}"),
                r.BytesPerOperation is { } b ? b.ToString("N0", CultureInfo.InvariantCulture) : "n/a",
                r.ServerSessions is { } n ? n.ToString(CultureInfo.InvariantCulture) : "n/a",
                string.Join("; ", ratios),
            ]);
        }

        return rows;
    }

    /// <summary>Formats the results as a Markdown table (also readable on a console).</summary>
    public static string ToMarkdown(IReadOnlyList<ScenarioResult> results)
    {
        List<string[]> rows = Rows(results);
        int[] widths = s_headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var text = new StringBuilder();
        AppendLine(text, s_headers, widths);
        text.Append('|').AppendJoin('|', widths.Select(static (w, i) => i is 0 or 6 ? new string('-', w + 2) : " " + new string('-', w) + ":")).Append("|\n");
        foreach (string[] row in rows)
        {
            AppendLine(text, row, widths);
        }

        return text.ToString();
    }

    /// <summary>Formats the results as CSV (invariant culture, quoted text).</summary>
    public static string ToCsv(IReadOnlyList<ScenarioResult> results)
    {
        var text = new StringBuilder("scenario,concurrency,ops_per_second,min_ops_per_second,max_ops_per_second,bytes_per_operation,server_sessions,ratio\n");
        List<string[]> rows = Rows(results);
        foreach ((ScenarioResult r, string[] row) in results.OrderBy(static r => r.Concurrency).Zip(rows))
        {
            text.Append(CultureInfo.InvariantCulture, $"\"{r.Scenario}\",{r.Concurrency},{r.OpsPerSecond:0.0},{r.MinOpsPerSecond:0.0},{r.MaxOpsPerSecond:0.0},{r.BytesPerOperation?.ToString("0", CultureInfo.InvariantCulture) ?? ""},{r.ServerSessions?.ToString(CultureInfo.InvariantCulture) ?? ""},\"{row[6]}\"\n");
        }

        return text.ToString();
    }

    private static void AppendLine(StringBuilder text, string[] cells, int[] widths)
    {
        text.Append('|');
        for (int i = 0; i < cells.Length; i++)
        {
            text.Append(' ').Append(i is 0 or 6 ? cells[i].PadRight(widths[i]) : cells[i].PadLeft(widths[i])).Append(" |");
        }

        text.Append('\n');
    }
}
