using System.Globalization;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>The options of the <c>e2e</c> part, parsed from the command line.</summary>
public sealed class E2eOptions
{
    /// <summary>Gets the Npgsql connection string to use; <see langword="null"/> starts a server with PoolKit.Testing.</summary>
    public string? Connection { get; private set; }

    /// <summary>Gets the concurrency levels (tasks issuing queries at once). Default: 1, 8, 64.</summary>
    public IReadOnlyList<int> Concurrency { get; private set; } = [1, 8, 64];

    /// <summary>Gets how long each measured run lasts. Default: 5 s.</summary>
    public TimeSpan Duration { get; private set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets how long each (scenario, concurrency) warms up before its first measured run. Default: 2 s.</summary>
    public TimeSpan Warmup { get; private set; } = TimeSpan.FromSeconds(2);

    /// <summary>Gets how many measured runs each (scenario, concurrency) gets; the median is reported. Default: 3.</summary>
    public int Repeats { get; private set; } = 3;

    /// <summary>Gets the maximum size of every pool under test. Default: 16.</summary>
    public int MaxPoolSize { get; private set; } = 16;

    /// <summary>Gets whether to skip the pgbench ceiling row.</summary>
    public bool NoPgbench { get; private set; }

    /// <summary>Gets the pgbench workload: <c>select1</c> (a script running <c>SELECT 1</c>, the same query as the other rows) or <c>select-only</c> (pgbench's built-in <c>-S</c>, which needs <c>pgbench -i</c> tables and is created on demand). Default: select1.</summary>
    public string PgbenchWorkload { get; private set; } = "select1";

    /// <summary>Gets the Markdown file to write the table to, if any.</summary>
    public string? MarkdownPath { get; private set; }

    /// <summary>Gets the CSV file to write the table to, if any.</summary>
    public string? CsvPath { get; private set; }

    /// <summary>Parses the arguments after <c>e2e</c>.</summary>
    /// <param name="args">The arguments.</param>
    /// <returns>The options.</returns>
    /// <exception cref="ArgumentException">An argument is unknown or its value is invalid.</exception>
    public static E2eOptions Parse(IReadOnlyList<string> args)
    {
        var options = new E2eOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            switch (name)
            {
                case "--connection":
                    options.Connection = Value();
                    break;
                case "--concurrency":
                    options.Concurrency = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(static v => Positive("--concurrency", v)).ToArray();
                    break;
                case "--duration":
                    options.Duration = TimeSpan.FromSeconds(Positive(name, Value()));
                    break;
                case "--warmup":
                    options.Warmup = TimeSpan.FromSeconds(int.Parse(Value(), CultureInfo.InvariantCulture));
                    break;
                case "--repeats":
                    options.Repeats = Positive(name, Value());
                    break;
                case "--max-pool-size":
                    options.MaxPoolSize = Positive(name, Value());
                    break;
                case "--no-pgbench":
                    options.NoPgbench = true;
                    break;
                case "--pgbench-workload":
                    options.PgbenchWorkload = Value() is "select1" or "select-only" ? args[i] : throw new ArgumentException("--pgbench-workload must be select1 or select-only");
                    break;
                case "--markdown":
                    options.MarkdownPath = Value();
                    break;
                case "--csv":
                    options.CsvPath = Value();
                    break;
                default:
                    throw new ArgumentException($"unknown e2e option '{name}'");
            }
        }

        return options;
    }

    private static int Positive(string name, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new ArgumentException($"{name} must be a positive integer, got '{text}'");
}
