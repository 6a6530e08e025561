namespace PoolKit.Cli.Demo;

/// <summary>What one way did, as counted by the client.</summary>
/// <param name="Committed">Rows whose insert committed.</param>
/// <param name="Unknown">Rows whose commit was interrupted, so the client cannot know whether they are in the table.</param>
/// <param name="Elapsed">From the first connection to the last commit (the pool's disposal excluded).</param>
/// <param name="ConnectionsOpened">Physical connections the client opened.</param>
/// <param name="Canceled">Whether the run was stopped before it inserted every row.</param>
/// <param name="Error">The first error that stopped the run, as one line; <see langword="null"/> when none did.</param>
internal sealed record InsertOutcome(long Committed, long Unknown, TimeSpan Elapsed, long ConnectionsOpened, bool Canceled, string? Error);
