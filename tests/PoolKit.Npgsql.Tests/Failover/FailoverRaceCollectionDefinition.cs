namespace PoolKit.Npgsql.Tests.Failover;

/// <summary>Runs <see cref="FailoverRaceTests"/> alone: its timings should not compete with other tests for the CPU.</summary>
[CollectionDefinition(nameof(FailoverRaceTests), DisableParallelization = true)]
public sealed class FailoverRaceCollectionDefinition;
