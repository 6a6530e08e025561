using System.Globalization;
using Spectre.Console;

namespace PoolKit.Cli.Infrastructure;

/// <summary>
/// The width tables are laid out for when the output is not a terminal (piped to a file, <c>tee</c> or a CI log):
/// Spectre.Console would assume 80 columns there and wrap the demo's seven-column table into three lines per row.
/// </summary>
internal static class ConsoleWidth
{
    /// <summary>The width used for redirected output when <c>COLUMNS</c> does not say otherwise.</summary>
    public const int Redirected = 120;

    /// <summary>Sets <paramref name="console"/>'s width when its output is redirected; a terminal keeps its own width.</summary>
    /// <param name="console">The console writing to the stream.</param>
    /// <param name="redirected">Whether that stream is redirected (not a terminal).</param>
    /// <param name="columns">The <c>COLUMNS</c> environment variable; a positive integer wins over <see cref="Redirected"/>.</param>
    public static void Apply(IAnsiConsole console, bool redirected, string? columns)
    {
        if (!redirected)
        {
            return;
        }

        console.Profile.Width = int.TryParse(columns, NumberStyles.None, CultureInfo.InvariantCulture, out int width) && width > 0
            ? width
            : Redirected;
    }
}
