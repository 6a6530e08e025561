using PoolKit.Cli.Infrastructure;
using PoolKit.Cli.Sizing;
using Spectre.Console;

namespace PoolKit.Cli.Commands;

/// <summary>Where <c>poolkit size</c> writes its JSON (<c>--json</c>) and its chart (<c>--plot</c>).</summary>
/// <param name="JsonPath">A file, <c>-</c> for standard output, or <see langword="null"/> for none.</param>
/// <param name="PlotPath">A PNG file, or <see langword="null"/> for none.</param>
internal sealed record SizeOutputs(string? JsonPath, string? PlotPath)
{
    /// <summary>Gets whether the JSON goes to standard output (so the human output must not).</summary>
    public bool JsonToStandardOutput => JsonPath == "-";

    /// <summary>Writes the JSON and the plot that were asked for.</summary>
    /// <param name="result">The report.</param>
    /// <param name="context">Gives standard output.</param>
    /// <param name="console">Where to say what was written.</param>
    /// <exception cref="CliException">A file could not be written.</exception>
    public void Write(SizeResult result, CliContext context, IAnsiConsole console)
    {
        if (JsonPath is { } json)
        {
            if (JsonToStandardOutput)
            {
                using var buffer = new MemoryStream();
                SizeJson.Write(result, buffer);
                context.Output.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
                context.Output.Flush();
            }
            else
            {
                WriteFile(json, "--json", path =>
                {
                    using FileStream stream = File.Create(path);
                    SizeJson.Write(result, stream);
                });
                console.MarkupLineInterpolated($"[grey]JSON written to[/] {json}");
            }
        }

        if (PlotPath is { } plot)
        {
            if (result.Measurements.Count == 0)
            {
                console.MarkupLine("[yellow]No size was measured: no plot written.[/]");
                return;
            }

            WriteFile(plot, "--plot", path => SizePlot.Save(result, path));
            console.MarkupLineInterpolated($"[grey]plot written to[/] {plot}");
        }
    }

    private static void WriteFile(string path, string option, Action<string> write)
    {
        try
        {
            write(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"Cannot write {option} file '{path}' ({ex.Message.ReplaceLineEndings(" ")}): give a path in a writable directory.", ex);
        }
    }
}
