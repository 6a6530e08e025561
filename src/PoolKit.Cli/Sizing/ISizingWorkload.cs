using Npgsql;

namespace PoolKit.Cli.Sizing;

/// <summary>The transaction <c>poolkit size</c> runs over and over at each pool size.</summary>
internal interface ISizingWorkload
{
    /// <summary>Gets a one-line description, for the report and the JSON.</summary>
    string Description { get; }

    /// <summary>Creates what the workload needs (for example its scratch schema).</summary>
    /// <param name="admin">An open connection for the set-up.</param>
    /// <param name="cancellationToken">Cancels the set-up.</param>
    /// <returns>A task that completes when the workload can run.</returns>
    Task SetupAsync(NpgsqlConnection admin, CancellationToken cancellationToken);

    /// <summary>Runs one transaction on <paramref name="connection"/>, committing it.</summary>
    /// <param name="connection">A leased, open connection.</param>
    /// <param name="cancellationToken">Cancels the transaction (it is rolled back).</param>
    /// <returns>A task that completes when the transaction has committed.</returns>
    Task ExecuteAsync(NpgsqlConnection connection, CancellationToken cancellationToken);

    /// <summary>Removes what <see cref="SetupAsync"/> created. Never cancelled.</summary>
    /// <param name="admin">An open connection for the clean-up.</param>
    /// <returns>A task that completes when it is gone.</returns>
    Task CleanupAsync(NpgsqlConnection admin);
}
