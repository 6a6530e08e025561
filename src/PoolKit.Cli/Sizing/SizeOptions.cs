using PoolKit.Npgsql;

namespace PoolKit.Cli.Sizing;

/// <summary>The settings of <c>poolkit size</c>.</summary>
internal sealed class SizeOptions
{
    /// <summary>Gets or sets the pool sizes to measure, in the order given.</summary>
    /// <value>Default 1, 2, 4, 8, 16, 32. Each between 1 and 10,000, no repeats.</value>
    public IReadOnlyList<int> Sizes { get; set; } = [1, 2, 4, 8, 16, 32];

    /// <summary>Gets or sets how many clients run transactions at once (they wait for the pool when it is smaller).</summary>
    /// <value>Default 32. At least 1.</value>
    public int Clients { get; set; } = 32;

    /// <summary>Gets or sets how long each size is measured.</summary>
    /// <value>Default 5 seconds. Positive.</value>
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets how long each size runs before measuring (connections opened, caches warm).</summary>
    /// <value>Default 1 second. Zero or more.</value>
    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how far below the best throughput, in percent, the recommended size may be.</summary>
    /// <value>Default 5. Between 0 and 100.</value>
    public double TolerancePercent { get; set; } = 5;

    /// <summary>Gets or sets a file of SQL run as one transaction per operation, instead of the built-in workload.</summary>
    /// <value>Default <see langword="null"/>: the built-in pgbench-like read/write transaction.</value>
    public string? SqlFile { get; set; }

    /// <summary>Gets or sets how many account rows the built-in workload creates (its scale).</summary>
    /// <value>Default 10,000. At least 1.</value>
    public int Accounts { get; set; } = 10_000;

    /// <summary>Gets or sets how the pool resets a connection when it is returned.</summary>
    /// <value>Default <see cref="NpgsqlResetMode.Discard"/>, the pool's own default (one <c>DISCARD ALL</c> round trip per return).</value>
    public NpgsqlResetMode ResetMode { get; set; } = NpgsqlResetMode.Discard;

    /// <summary>Lists every invalid setting.</summary>
    /// <returns>The problems, empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        List<string> errors = [];
        if (Sizes.Count == 0)
        {
            errors.Add("--sizes is empty; give at least one pool size, e.g. --sizes 1,2,4,8.");
        }
        else if (Sizes.Any(static s => s is < 1 or > 10_000))
        {
            errors.Add("--sizes has a size outside 1..10000.");
        }
        else if (Sizes.Distinct().Count() != Sizes.Count)
        {
            errors.Add("--sizes repeats a size; give each size once.");
        }

        if (Clients is < 1 or > 10_000)
        {
            errors.Add($"--clients is {Clients}; it must be between 1 and 10000.");
        }

        if (Duration <= TimeSpan.Zero)
        {
            errors.Add("--duration must be positive, e.g. --duration 5.");
        }

        if (Warmup < TimeSpan.Zero)
        {
            errors.Add("--warmup must be zero or more.");
        }

        if (TolerancePercent is < 0 or > 100 || double.IsNaN(TolerancePercent))
        {
            errors.Add($"--tolerance is {TolerancePercent}; it must be a percentage between 0 and 100.");
        }

        if (Accounts < 1)
        {
            errors.Add($"--accounts is {Accounts}; it must be at least 1.");
        }

        return errors;
    }
}
