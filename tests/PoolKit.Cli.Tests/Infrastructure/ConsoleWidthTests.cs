using PoolKit.Cli.Infrastructure;
using Spectre.Console;

namespace PoolKit.Cli.Tests.Infrastructure;

/// <summary>Redirected output gets a table width that fits the demo's table; a terminal keeps its own.</summary>
public sealed class ConsoleWidthTests
{
    [Theory]
    [InlineData(null, ConsoleWidth.Redirected)]
    [InlineData("", ConsoleWidth.Redirected)]
    [InlineData("wide", ConsoleWidth.Redirected)]
    [InlineData("0", ConsoleWidth.Redirected)]
    [InlineData("-5", ConsoleWidth.Redirected)]
    [InlineData("200", 200)]
    public void Apply_Redirected_UsesColumnsOrTheRedirectedDefault(string? columns, int expected)
    {
        IAnsiConsole console = CreateConsole();

        ConsoleWidth.Apply(console, redirected: true, columns);

        Assert.Equal(expected, console.Profile.Width);
    }

    [Fact]
    public void Apply_Terminal_KeepsTheConsolesWidth()
    {
        IAnsiConsole console = CreateConsole();
        int before = console.Profile.Width;

        ConsoleWidth.Apply(console, redirected: false, "200");

        Assert.Equal(before, console.Profile.Width);
    }

    [Fact]
    public void Apply_Redirected_DemoTableRowsFitOnOneLine()
    {
        var writer = new StringWriter();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No });
        ConsoleWidth.Apply(console, redirected: true, columns: null);
        var table = new Table();
        foreach (string column in new[] { "way", "rows", "seconds", "rows/s", "speed-up", "connections", "table" })
        {
            table.AddColumn(column);
        }

        table.AddRow("PoolKit, 1 insert per transaction", "20,000", "1.15", "17,436", "44.4x", "8", "ok: 20,000 distinct");

        console.Write(table);

        Assert.Contains(writer.ToString().Split('\n'), line => line.Contains("PoolKit, 1 insert per transaction", StringComparison.Ordinal));
    }

    private static IAnsiConsole CreateConsole() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(new StringWriter()), Ansi = AnsiSupport.No });
}
