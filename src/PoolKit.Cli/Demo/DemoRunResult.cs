namespace PoolKit.Cli.Demo;

/// <summary>One way's line of the demo's report.</summary>
internal sealed record DemoRunResult
{
    /// <summary>Gets which way it is.</summary>
    public required DemoWay Way { get; init; }

    /// <summary>Gets the way's label.</summary>
    public required string Label { get; init; }

    /// <summary>Gets whether the way ran at all (false when the demo was stopped before it).</summary>
    public required bool Ran { get; init; }

    /// <summary>Gets how many rows it was to insert.</summary>
    public required long RequestedRows { get; init; }

    /// <summary>Gets how many inserts the client saw commit.</summary>
    public long Committed { get; init; }

    /// <summary>Gets how many inserts ended with an interrupted commit (outcome unknown to the client).</summary>
    public long Unknown { get; init; }

    /// <summary>Gets the way's wall-clock time.</summary>
    public TimeSpan Elapsed { get; init; }

    /// <summary>Gets committed rows per second.</summary>
    public double RowsPerSecond => Elapsed > TimeSpan.Zero ? Committed / Elapsed.TotalSeconds : 0;

    /// <summary>Gets the connections opened: the server's session count when it has one, else the client's count.</summary>
    public long ConnectionsOpened { get; init; }

    /// <summary>Gets whether <see cref="ConnectionsOpened"/> comes from the server (<c>pg_stat_database.sessions</c>).</summary>
    public bool ConnectionsFromServer { get; init; }

    /// <summary>Gets the physical connections the client itself opened.</summary>
    public long ClientConnectionsOpened { get; init; }

    /// <summary>Gets the rows in the table after the way.</summary>
    public long TableRows { get; init; }

    /// <summary>Gets the distinct ids in the table after the way.</summary>
    public long DistinctIds { get; init; }

    /// <summary>Gets whether the way was stopped by Ctrl+C before it inserted every row.</summary>
    public bool Canceled { get; init; }

    /// <summary>Gets the error that stopped the way, as one line; <see langword="null"/> when none did.</summary>
    public string? Error { get; init; }

    /// <summary>
    /// Gets whether the table holds exactly what was reported: as many rows as distinct ids, as many as committed
    /// (give or take the unknown ones), and all requested rows unless the way was stopped.
    /// </summary>
    public bool TableCheckPassed =>
        Ran
        && TableRows == DistinctIds
        && TableRows >= Committed && TableRows <= Committed + Unknown
        && (Canceled || Error is not null || TableRows == RequestedRows);
}
