using PoolKit.Npgsql;

namespace PoolKit.Cli.Sizing;

/// <summary>The report of <c>poolkit size</c>.</summary>
internal sealed record SizeResult
{
    /// <summary>Gets the workload's description.</summary>
    public required string Workload { get; init; }

    /// <summary>Gets how the pool reset returned connections.</summary>
    public required NpgsqlResetMode ResetMode { get; init; }

    /// <summary>Gets the server, as <c>user@host:port/database</c>.</summary>
    public required string Server { get; init; }

    /// <summary>Gets how many clients ran at once.</summary>
    public required int Clients { get; init; }

    /// <summary>Gets the warm-up per size.</summary>
    public required TimeSpan Warmup { get; init; }

    /// <summary>Gets the measured window per size.</summary>
    public required TimeSpan Duration { get; init; }

    /// <summary>Gets the tolerance of the recommendation, in percent.</summary>
    public required double TolerancePercent { get; init; }

    /// <summary>Gets one measurement per size that was measured to the end, in the order run.</summary>
    public required IReadOnlyList<SizeMeasurement> Measurements { get; init; }

    /// <summary>Gets the recommendation; <see langword="null"/> when nothing was measured.</summary>
    public SizeRecommendation? Recommendation { get; init; }

    /// <summary>Gets whether Ctrl+C stopped the run before every size was measured.</summary>
    public bool Canceled { get; init; }
}
