using System.Globalization;
using ScottPlot;

namespace PoolKit.Cli.Sizing;

/// <summary>
/// Draws throughput (left axis) and p99 latency (right axis) against pool size with ScottPlot, and saves it as a
/// PNG. Sizes are spaced evenly and labelled with their value, since they usually double from one to the next.
/// </summary>
internal static class SizePlot
{
    /// <summary>Saves the chart of <paramref name="result"/> to <paramref name="path"/>.</summary>
    /// <param name="result">The report; it must hold at least one measurement.</param>
    /// <param name="path">The PNG file to write (replaced if it exists).</param>
    public static void Save(SizeResult result, string path)
    {
        SizeMeasurement[] bySize = result.Measurements.OrderBy(static m => m.PoolSize).ToArray();
        double[] positions = Enumerable.Range(0, bySize.Length).Select(static i => (double)i).ToArray();
        string[] labels = bySize.Select(static m => m.PoolSize.ToString(CultureInfo.InvariantCulture)).ToArray();

        var plot = new Plot();
        var throughput = plot.Add.Scatter(positions, bySize.Select(static m => m.Throughput).ToArray());
        throughput.LegendText = "throughput (transactions/s)";
        throughput.LineWidth = 2;
        throughput.MarkerSize = 8;

        var p99 = plot.Add.Scatter(positions, bySize.Select(static m => m.P99Milliseconds).ToArray());
        p99.LegendText = "p99 latency (ms)";
        p99.LineWidth = 2;
        p99.MarkerSize = 8;
        p99.LinePattern = LinePattern.Dashed;
        p99.Axes.YAxis = plot.Axes.Right;

        if (result.Recommendation is { } pick)
        {
            int index = Array.FindIndex(bySize, m => m.PoolSize == pick.RecommendedPoolSize);
            var line = plot.Add.VerticalLine(index);
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"recommended: {pick.RecommendedPoolSize}");
            line.LinePattern = LinePattern.Dotted;
            line.Color = Colors.Green;
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(positions, labels);
        plot.Axes.Bottom.Label.Text = "pool size (MaxSize)";
        plot.Axes.Left.Label.Text = "transactions per second";
        plot.Axes.Right.Label.Text = "p99 latency (ms)";
        plot.Axes.SetLimitsX(-0.5, bySize.Length - 0.5);
        plot.Axes.SetLimitsY(0, Math.Max(1, bySize.Max(static m => m.Throughput)) * 1.1, plot.Axes.Left);
        plot.Axes.SetLimitsY(0, Math.Max(1, bySize.Max(static m => m.P99Milliseconds)) * 1.1, plot.Axes.Right);
        plot.Title(string.Create(CultureInfo.InvariantCulture, $"poolkit size: {result.Clients} clients, {result.Duration.TotalSeconds:0.#} s per size"));
        plot.ShowLegend(Edge.Bottom);
        plot.SavePng(path, 900, 540);
    }
}
