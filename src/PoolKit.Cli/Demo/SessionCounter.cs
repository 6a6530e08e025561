using System.Diagnostics;
using Npgsql;

namespace PoolKit.Cli.Demo;

/// <summary>
/// Counts the connections a way opened, as the server saw them: the change of <c>pg_stat_database.sessions</c>
/// (PostgreSQL 14 and later) for the database, read after the way's backends have exited (a backend flushes its
/// statistics on exit, before it leaves <c>pg_stat_activity</c>) and after <c>pg_stat_clear_snapshot()</c>. On older
/// servers <see cref="IsSupported"/> is false and the demo shows the client's own count instead.
/// </summary>
/// <remarks>
/// The count covers every session opened on the database in the window, so on a shared server other clients add
/// to it. The counter's own long-lived connection is flushed once at the start
/// (<c>pg_stat_force_next_flush()</c>, PostgreSQL 15+), so it is not counted in any window.
/// </remarks>
internal sealed class SessionCounter
{
    private static readonly TimeSpan s_exitLimit = TimeSpan.FromSeconds(15);
    private readonly NpgsqlConnection _admin;

    private SessionCounter(NpgsqlConnection admin, bool isSupported)
    {
        _admin = admin;
        IsSupported = isSupported;
    }

    /// <summary>Gets whether the server reports sessions per database (PostgreSQL 14 and later).</summary>
    public bool IsSupported { get; }

    /// <summary>Sets up the counter on <paramref name="admin"/>.</summary>
    /// <param name="admin">An open connection, used for the counts (not concurrently).</param>
    /// <param name="cancellationToken">Cancels the set-up.</param>
    /// <returns>The counter.</returns>
    public static async Task<SessionCounter> CreateAsync(NpgsqlConnection admin, CancellationToken cancellationToken)
    {
        int major = admin.PostgreSqlVersion.Major;
        if (major >= 15)
        {
            // Our own session's "+1" is pending in this backend until it flushes: flush it now, outside any window.
            await using var flush = new NpgsqlCommand("SELECT pg_stat_force_next_flush()", admin);
            await flush.ExecuteNonQueryAsync(cancellationToken);
        }

        return new SessionCounter(admin, isSupported: major >= 14);
    }

    /// <summary>Reads the database's session count, once it has stopped moving.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The count, or 0 when <see cref="IsSupported"/> is false.</returns>
    public async Task<long> ReadAsync(CancellationToken cancellationToken)
    {
        if (!IsSupported)
        {
            return 0;
        }

        long previous = await ReadOnceAsync(cancellationToken);
        Stopwatch clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            await Task.Delay(50, cancellationToken);
            long current = await ReadOnceAsync(cancellationToken);
            if (current == previous)
            {
                return current;
            }

            previous = current;
        }

        return previous;
    }

    /// <summary>Waits (bounded) until no backend with <paramref name="applicationName"/> is left on the server.</summary>
    /// <param name="applicationName">The way's application name.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Whether they all exited within the bound.</returns>
    public async Task<bool> WaitForExitAsync(string applicationName, CancellationToken cancellationToken)
    {
        Stopwatch clock = Stopwatch.StartNew();
        while (true)
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", _admin)
            {
                Parameters = { new NpgsqlParameter<string> { TypedValue = applicationName } },
            };
            if ((long)(await command.ExecuteScalarAsync(cancellationToken))! == 0)
            {
                return true;
            }

            if (clock.Elapsed > s_exitLimit)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private async Task<long> ReadOnceAsync(CancellationToken cancellationToken)
    {
        await using (var clear = new NpgsqlCommand("SELECT pg_stat_clear_snapshot()", _admin))
        {
            await clear.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var read = new NpgsqlCommand("SELECT sessions FROM pg_stat_database WHERE datname = current_database()", _admin);
        return (long)(await read.ExecuteScalarAsync(cancellationToken))!;
    }
}
