using Npgsql;

namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>
/// Counts what the server sees of a row: the distinct backend PIDs in <c>pg_stat_activity</c> for the row's
/// application name, read at the end of every warm-up and measured run (never during one, so it costs the run
/// nothing, not even allocations), accumulated from the row's creation. A pool keeps the sessions it opened, so for a
/// pool this counts the sessions it opened, surplus ones included; a session that lived and ended between two reads
/// is missed, so the rows that open one per operation (no pooling) print no count.
/// </summary>
public sealed class SessionSampler : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly Dictionary<string, HashSet<int>> _seen = [];

    private SessionSampler(NpgsqlConnection connection) => _connection = connection;

    /// <summary>Opens the sampler's own connection.</summary>
    /// <param name="connectionString">The server's connection string.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>The sampler.</returns>
    public static async Task<SessionSampler> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, ApplicationName = "poolkit-e2e-sampler" };
        var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return new SessionSampler(connection);
    }

    /// <summary>Gets the distinct sessions seen so far for an application name.</summary>
    /// <param name="applicationName">The row's application name.</param>
    /// <returns>The count.</returns>
    public int SessionsSeen(string applicationName) => _seen.TryGetValue(applicationName, out HashSet<int>? pids) ? pids.Count : 0;

    /// <summary>Reads the row's sessions now and adds them to what was seen.</summary>
    /// <param name="applicationName">The row's application name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>A task that completes after the read.</returns>
    public async Task SampleAsync(string applicationName, CancellationToken cancellationToken)
    {
        if (!_seen.TryGetValue(applicationName, out HashSet<int>? pids))
        {
            pids = [];
            _seen[applicationName] = pids;
        }

        await using var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE application_name = $1", _connection)
        {
            Parameters = { new() { Value = applicationName } },
        };
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            pids.Add(reader.GetInt32(0));
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
