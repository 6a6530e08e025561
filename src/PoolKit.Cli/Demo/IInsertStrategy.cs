namespace PoolKit.Cli.Demo;

/// <summary>One way of inserting the demo's rows.</summary>
internal interface IInsertStrategy
{
    /// <summary>Gets which way this is.</summary>
    DemoWay Way { get; }

    /// <summary>Gets the label shown in the progress bar and the table.</summary>
    string Label { get; }

    /// <summary>
    /// Inserts rows 1..<paramref name="rows"/> into <paramref name="table"/>. Cancellation stops starting new inserts;
    /// inserts already sent finish, so the committed count stays exact. Never throws for a database error: the
    /// outcome carries it.
    /// </summary>
    /// <param name="connectionString">The connection string to use (application name set, Npgsql pooling off).</param>
    /// <param name="table">The table to insert into.</param>
    /// <param name="rows">How many rows.</param>
    /// <param name="progress">Counts committed rows as they commit.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>What happened.</returns>
    Task<InsertOutcome> RunAsync(string connectionString, ScratchTable table, int rows, InsertProgress progress, CancellationToken cancellationToken);
}
