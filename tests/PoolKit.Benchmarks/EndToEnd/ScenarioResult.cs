namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>The measured result of one (scenario, concurrency).</summary>
/// <param name="Scenario">The row name.</param>
/// <param name="Concurrency">How many tasks (or pgbench clients) ran at once.</param>
/// <param name="OpsPerSecond">The median throughput over the repeats.</param>
/// <param name="MinOpsPerSecond">The slowest repeat.</param>
/// <param name="MaxOpsPerSecond">The fastest repeat.</param>
/// <param name="BytesPerOperation">The median managed allocation per operation, process-wide; <see langword="null"/> when not measured (pgbench).</param>
/// <param name="ComparedWith">The rows this row is compared against.</param>
/// <param name="ServerSessions">Distinct server sessions seen for the row since its pool was created (see <see cref="SessionSampler"/>); <see langword="null"/> when not counted.</param>
public sealed record ScenarioResult(
    string Scenario,
    int Concurrency,
    double OpsPerSecond,
    double MinOpsPerSecond,
    double MaxOpsPerSecond,
    double? BytesPerOperation,
    IReadOnlyList<string> ComparedWith,
    int? ServerSessions = null);
