using System.Globalization;
using PoolKit.Cli.Sizing.Charts;

namespace PoolKit.Cli.Sizing;

/// <summary>
/// Draws throughput (left axis, solid blue) and p99 latency (right axis, dashed orange) against pool size, with the
/// recommended size as a dotted green line, and saves it as a PNG. Sizes are spaced evenly and labelled with their
/// value, since they usually double from one to the next. Drawn by a small built-in rasterizer (<see cref="Canvas"/>,
/// <see cref="PngWriter"/>), so the tool carries no native graphics library.
/// </summary>
internal static class SizePlot
{
    /// <summary>The chart's width in pixels.</summary>
    public const int Width = 900;

    /// <summary>The chart's height in pixels.</summary>
    public const int Height = 540;

    /// <summary>The colour of the throughput series.</summary>
    public static readonly Rgb ThroughputColor = new(31, 119, 180);

    /// <summary>The colour of the p99 latency series.</summary>
    public static readonly Rgb LatencyColor = new(230, 110, 0);

    /// <summary>The colour of the recommended-size line.</summary>
    public static readonly Rgb RecommendedColor = new(44, 160, 44);

    private const int Left = 90;
    private const int Right = Width - 90;
    private const int Top = 50;
    private const int Bottom = Height - 110;
    private const int TargetTicks = 5;

    /// <summary>Saves the chart of <paramref name="result"/> to <paramref name="path"/>.</summary>
    /// <param name="result">The report; it must hold at least one measurement.</param>
    /// <param name="path">The PNG file to write (replaced if it exists).</param>
    public static void Save(SizeResult result, string path) => Draw(result).SavePng(path);

    /// <summary>Draws the chart of <paramref name="result"/>.</summary>
    /// <param name="result">The report; it must hold at least one measurement.</param>
    /// <returns>The drawn canvas.</returns>
    public static Canvas Draw(SizeResult result)
    {
        SizeMeasurement[] bySize = result.Measurements.OrderBy(static m => m.PoolSize).ToArray();
        if (bySize.Length == 0)
        {
            throw new ArgumentException("The report holds no measurement to plot.", nameof(result));
        }

        Canvas canvas = new(Width, Height, Rgb.White);
        (double throughputTop, double throughputStep) = Scale(bySize.Max(static m => m.Throughput));
        (double latencyTop, double latencyStep) = Scale(bySize.Max(static m => m.P99Milliseconds));

        // Grid and tick labels of the left axis; the right axis has its own ticks, marked on the frame.
        for (double value = 0; value <= throughputTop + (throughputStep / 2); value += throughputStep)
        {
            int y = (int)Math.Round(Bottom - ((Bottom - Top) * value / throughputTop));
            canvas.DrawLine(Left, y, Right, y, Rgb.Grid);
            string label = Format(value);
            canvas.DrawText(Left - 8 - BitmapFont.Measure(label), y - (BitmapFont.Height / 2), label, Rgb.Ink);
        }

        for (double value = 0; value <= latencyTop + (latencyStep / 2); value += latencyStep)
        {
            int y = (int)Math.Round(Bottom - ((Bottom - Top) * value / latencyTop));
            canvas.DrawLine(Right, y, Right + 5, y, Rgb.Ink);
            canvas.DrawText(Right + 9, y - (BitmapFont.Height / 2), Format(value), Rgb.Ink);
        }

        // Pool sizes, evenly spaced.
        double X(int index) => Left + ((Right - Left) * (index + 0.5) / bySize.Length);
        for (int i = 0; i < bySize.Length; i++)
        {
            int x = (int)Math.Round(X(i));
            canvas.DrawLine(x, Bottom, x, Bottom + 5, Rgb.Ink);
            string label = bySize[i].PoolSize.ToString(CultureInfo.InvariantCulture);
            canvas.DrawText(x - (BitmapFont.Measure(label) / 2), Bottom + 9, label, Rgb.Ink);
        }

        if (result.Recommendation is { } pick)
        {
            int index = Array.FindIndex(bySize, m => m.PoolSize == pick.RecommendedPoolSize);
            if (index >= 0)
            {
                canvas.DrawLine(X(index), Top, X(index), Bottom, RecommendedColor, thickness: 2, dash: 2, gap: 4);
            }
        }

        double YThroughput(double value) => Bottom - ((Bottom - Top) * value / throughputTop);
        double YLatency(double value) => Bottom - ((Bottom - Top) * value / latencyTop);
        DrawSeries(canvas, bySize.Select(static m => m.Throughput).ToArray(), X, YThroughput, ThroughputColor, dash: 0);
        DrawSeries(canvas, bySize.Select(static m => m.P99Milliseconds).ToArray(), X, YLatency, LatencyColor, dash: 10);

        // Frame and axis titles.
        canvas.DrawLine(Left, Top, Left, Bottom, Rgb.Ink);
        canvas.DrawLine(Right, Top, Right, Bottom, Rgb.Ink);
        canvas.DrawLine(Left, Bottom, Right, Bottom, Rgb.Ink);
        Centered(canvas, (Left + Right) / 2, Bottom + 30, "pool size (MaxSize)");
        const string LeftTitle = "transactions per second";
        const string RightTitle = "p99 latency (ms)";
        canvas.DrawTextUpwards(12, ((Top + Bottom) / 2) + (BitmapFont.Measure(LeftTitle) / 2), LeftTitle, Rgb.Ink);
        canvas.DrawTextUpwards(Width - 12 - BitmapFont.Height, ((Top + Bottom) / 2) + (BitmapFont.Measure(RightTitle) / 2), RightTitle, Rgb.Ink);
        Centered(canvas, Width / 2, 18, string.Create(
            CultureInfo.InvariantCulture, $"poolkit size: {result.Clients} clients, {result.Duration.TotalSeconds:0.#} s per size"));

        DrawLegend(canvas, result.Recommendation);
        return canvas;
    }

    private static void DrawSeries(Canvas canvas, double[] values, Func<int, double> x, Func<double, double> y, Rgb color, int dash)
    {
        for (int i = 1; i < values.Length; i++)
        {
            canvas.DrawLine(x(i - 1), y(values[i - 1]), x(i), y(values[i]), color, thickness: 2, dash: dash, gap: dash / 2);
        }

        for (int i = 0; i < values.Length; i++)
        {
            canvas.FillCircle(x(i), y(values[i]), 4.5, color);
        }
    }

    private static void DrawLegend(Canvas canvas, SizeRecommendation? pick)
    {
        List<(string Text, Rgb Color, int Dash)> entries =
        [
            ("throughput (transactions/s)", ThroughputColor, 0),
            ("p99 latency (ms)", LatencyColor, 10),
        ];
        if (pick is not null)
        {
            entries.Add((string.Create(CultureInfo.InvariantCulture, $"recommended: {pick.RecommendedPoolSize}"), RecommendedColor, 2));
        }

        const int Swatch = 30;
        const int Spacing = 28;
        int total = entries.Sum(static e => Swatch + 6 + BitmapFont.Measure(e.Text)) + (Spacing * (entries.Count - 1));
        int x = (Width - total) / 2;
        int y = Height - 30;
        foreach ((string text, Rgb color, int dash) in entries)
        {
            canvas.DrawLine(x, y, x + Swatch, y, color, thickness: 2, dash: dash, gap: dash == 2 ? 4 : dash / 2);
            canvas.DrawText(x + Swatch + 6, y - (BitmapFont.Height / 2), text, Rgb.Ink);
            x += Swatch + 6 + BitmapFont.Measure(text) + Spacing;
        }
    }

    private static void Centered(Canvas canvas, int centerX, int top, string text) =>
        canvas.DrawText(centerX - (BitmapFont.Measure(text) / 2), top, text, Rgb.Ink);

    /// <summary>
    /// A tick step of 1, 2, 2.5 or 5 times a power of ten giving about five ticks, and the axis maximum: the first
    /// multiple of the step at or above 1.05 * <paramref name="max"/>.
    /// </summary>
    internal static (double Top, double Step) Scale(double max)
    {
        if (!(max > 0) || double.IsInfinity(max))
        {
            return (1, 0.2);
        }

        double target = max * 1.05 / TargetTicks;
        double magnitude = Math.Pow(10, Math.Floor(Math.Log10(target)));
        double normalized = target / magnitude;
        double step = (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 2.5 ? 2.5 : normalized <= 5 ? 5 : 10) * magnitude;
        return (Math.Ceiling(Math.Round(max * 1.05 / step, 9)) * step, step);
    }

    private static string Format(double value) => Math.Round(value, 9).ToString("#,0.###", CultureInfo.InvariantCulture);
}
