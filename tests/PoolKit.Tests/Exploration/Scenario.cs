namespace PoolKit.Tests.Exploration;

/// <summary>One concurrency scenario: the pool's options, the policy's allowed outcomes and the logical threads.</summary>
internal sealed class Scenario
{
    public required string Name { get; init; }

    /// <summary>Spawns the scenario's logical threads and events (runs on the controller before the first step).</summary>
    public required Action<ExplorationRun> Threads { get; init; }

    /// <summary>Changes the options (defaults: MaxSize 2, AcquireTimeout 10 s, no validation, maintenance never due).</summary>
    public Action<ConnectionPoolOptions>? ConfigureOptions { get; init; }

    /// <summary>Sets the policy's allowed outcomes.</summary>
    public Action<ControlledPolicy>? ConfigurePolicy { get; init; }

    /// <summary>Whether the policy resets on return (the two-step return) or resets nothing (the one-step return).</summary>
    public bool Resetting { get; init; }

    /// <summary>How many timers may fire before the scenario's threads are done (deadlines, bounds, the back-off).</summary>
    public int TimerFirings { get; init; } = 1;

    /// <summary>How many times the clock may move by <see cref="ClockStep"/> (makes idle resources stale for validation).</summary>
    public int ClockSteps { get; init; }

    /// <summary>The size of one clock step.</summary>
    public TimeSpan ClockStep { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Resources that may be alive beyond MaxSize: abandoned work (a reset, validation or destruction that outlived its
    /// bound) still running. By default MaxSize, the budget issue 19 (item 4) proposes; today the pool has no bound
    /// at all (issue 19, defect 8), which the abandonment scenario shows.
    /// </summary>
    public int? AliveAllowance { get; init; }

    /// <summary>
    /// Whether an acquire that fails must also say so on its task (<c>IsCompletedSuccessfully</c> false): off by
    /// default while issue 19's defect 5 is open (every outcome reports success today).
    /// </summary>
    public bool ChecksTaskStatus { get; init; }

    /// <summary>
    /// Whether the pool's count of cancelled acquires must match the cancelled outcomes: off by default while issue 19's
    /// defect 11 is open (an acquire with an already-cancelled token is not counted).
    /// </summary>
    public bool ChecksCanceledCount { get; init; }

    /// <summary>The bound on scheduling decisions of one schedule.</summary>
    public int MaxSteps { get; init; } = 3_000;

    public override string ToString() => Name;
}
