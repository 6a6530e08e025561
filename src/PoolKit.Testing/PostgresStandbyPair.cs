using System.Globalization;
using Npgsql;

namespace PoolKit.Testing;

/// <summary>
/// A throwaway primary with a streaming standby, both local clusters from the local PostgreSQL binaries on
/// 127.0.0.1: the standby is made with <c>pg_basebackup -R</c> from the primary and listens on a port of its own.
/// Use <see cref="GetConnectionString(string, TargetSessionAttributes)"/> for Npgsql's multi-host connection
/// strings, and the failover controls (<see cref="PromoteStandbyAsync"/>, <see cref="StopPrimaryAsync"/>, and the
/// fault controls of <see cref="Primary"/> and <see cref="Standby"/>) to move the primary role.
/// </summary>
/// <remarks>
/// Every control acts only on the two clusters this object started, found by their own data directories and
/// postmaster pid files. Dispose it to stop both and delete their directories (a test host that exits without
/// disposing does the same from an exit handler).
/// </remarks>
public sealed class PostgresStandbyPair : IAsyncDisposable
{
    private int _disposed;

    private PostgresStandbyPair(PostgresTestServer primary, PostgresTestServer standby)
    {
        Primary = primary;
        Standby = standby;
    }

    /// <summary>Gets the server started as the primary (after <see cref="PromoteStandbyAsync"/>, the old primary).</summary>
    public PostgresTestServer Primary { get; }

    /// <summary>Gets the server started as the standby (after <see cref="PromoteStandbyAsync"/>, the new primary).</summary>
    public PostgresTestServer Standby { get; }

    /// <summary>Starts a primary, then a streaming standby of it, and waits until the standby accepts read-only connections.</summary>
    /// <param name="options">The options of both clusters (their <see cref="PostgresTestServerOptions.MaxConnections"/>,
    /// <see cref="PostgresTestServerOptions.StartTimeout"/> and <see cref="PostgresTestServerOptions.BinarySearchPaths"/>);
    /// the environment variable and Docker are ignored: both servers are always local clusters. Default: the defaults.</param>
    /// <param name="cancellationToken">Cancels the start; whatever was started is removed.</param>
    /// <returns>The running pair; dispose it when done.</returns>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="PostgresUnavailableException">The PostgreSQL binaries (initdb, pg_ctl, postgres, pg_basebackup) are not
    /// installed; the message says what to install.</exception>
    /// <exception cref="InvalidOperationException">A server or the base backup failed; the message includes the output.</exception>
    public static async Task<PostgresStandbyPair> StartAsync(PostgresTestServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        PostgresTestServerOptions settings = (options ?? new PostgresTestServerOptions()).Snapshot();
        settings.EnvironmentVariable = null;
        settings.UseDocker = false;
        PostgresTestServer primary = await PostgresTestServer.StartAsync(settings, cancellationToken).ConfigureAwait(false);
        try
        {
            PostgresTestServer standby = await primary.StartStandbyAsync(settings.MaxConnections, cancellationToken).ConfigureAwait(false);
            return new PostgresStandbyPair(primary, standby);
        }
        catch
        {
            await primary.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Gets a multi-host connection string naming the primary, then the standby (<c>Host=127.0.0.1:p1,127.0.0.1:p2</c>),
    /// with the given target session attributes and application name, Npgsql's own pooling off.
    /// </summary>
    /// <param name="applicationName">The <c>Application Name</c> to set.</param>
    /// <param name="targetSessionAttributes">Which server Npgsql picks: <see cref="TargetSessionAttributes.Primary"/>
    /// or <see cref="TargetSessionAttributes.ReadWrite"/> for writes, <see cref="TargetSessionAttributes.PreferStandby"/>
    /// or <see cref="TargetSessionAttributes.Any"/> for reads.</param>
    /// <returns>The connection string. It contains the password.</returns>
    /// <exception cref="ArgumentException"><paramref name="applicationName"/> is null or blank.</exception>
    public string GetConnectionString(string applicationName, TargetSessionAttributes targetSessionAttributes)
    {
        NpgsqlConnectionStringBuilder builder = new(Primary.GetConnectionString(applicationName))
        {
            Host = string.Create(CultureInfo.InvariantCulture, $"{Primary.Host}:{Primary.Port},{Standby.Host}:{Standby.Port}"),
            TargetSessionAttributes = TargetSessionAttributesText(targetSessionAttributes),
        };
        return builder.ConnectionString;
    }

    /// <summary>Waits until the standby has replayed everything the primary has written so far.</summary>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the standby caught up.</returns>
    /// <exception cref="TimeoutException">The standby did not catch up within <paramref name="timeout"/>.</exception>
    /// <exception cref="NpgsqlException">A server could not be reached.</exception>
    public async Task WaitForStandbyToCatchUpAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        string target;
        NpgsqlConnection primary = new(Primary.GetConnectionString(PostgresTestServer.AdminApplicationName));
        await using (primary.ConfigureAwait(false))
        {
            await primary.OpenAsync(cancellationToken).ConfigureAwait(false);
            // The insert position, not pg_current_wal_lsn() (the write position): the test clusters run with
            // synchronous_commit = off, so a commit that returned may not be written yet, and a standby that reached the
            // write position could still miss it.
            NpgsqlCommand command = new("SELECT pg_current_wal_insert_lsn()::text", primary);
            await using (command.ConfigureAwait(false))
            {
                target = (string)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
        }

        DateTime deadline = DateTime.UtcNow + timeout;
        NpgsqlConnection standby = new(Standby.GetConnectionString(PostgresTestServer.AdminApplicationName));
        await using (standby.ConfigureAwait(false))
        {
            await standby.OpenAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                NpgsqlCommand check = new("SELECT coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", standby);
                await using (check.ConfigureAwait(false))
                {
                    check.Parameters.Add(new NpgsqlParameter { Value = target });
                    if ((bool)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                    {
                        return;
                    }
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"The standby on port {Standby.Port} did not replay up to {target} within {timeout.TotalSeconds:0.#} s.");
                }

                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Promotes the standby (<c>pg_ctl promote</c>); returns when it accepts writes. The primary keeps running: stop it first
    /// (<see cref="StopPrimaryAsync"/>) for a failover without two primaries.</summary>
    /// <param name="cancellationToken">Cancels the promotion.</param>
    /// <returns>A task that completes when the standby is a primary.</returns>
    /// <exception cref="ObjectDisposedException">The pair was disposed.</exception>
    /// <exception cref="InvalidOperationException">pg_ctl could not promote it (for example it is not a standby any more).</exception>
    public Task PromoteStandbyAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Standby.PromoteAsync(cancellationToken);
    }

    /// <summary>Stops the primary (see <see cref="PostgresTestServer.StopAsync"/>).</summary>
    /// <param name="immediate"><see langword="true"/> for an immediate shutdown (like a crash); default a fast shutdown, which sends
    /// the standby everything committed before it ends.</param>
    /// <param name="cancellationToken">Cancels waiting for the shutdown.</param>
    /// <returns>A task that completes when the primary's postmaster has exited.</returns>
    /// <exception cref="ObjectDisposedException">The pair was disposed.</exception>
    /// <exception cref="InvalidOperationException">pg_ctl could not stop it.</exception>
    public Task StopPrimaryAsync(bool immediate = false, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return Primary.StopAsync(immediate, cancellationToken);
    }

    /// <summary>Describes the pair without secrets.</summary>
    /// <returns>The description.</returns>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"PostgreSQL pair: primary 127.0.0.1:{Primary.Port}, standby 127.0.0.1:{Standby.Port}");

    /// <summary>Stops both servers and deletes their directories. Calling it again does nothing.</summary>
    /// <returns>A task that completes when both are removed.</returns>
    /// <exception cref="IOException">A directory or process could not be removed.</exception>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Standby.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            await Primary.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string TargetSessionAttributesText(TargetSessionAttributes value) => value switch
    {
        TargetSessionAttributes.Any => "any",
        TargetSessionAttributes.Primary => "primary",
        TargetSessionAttributes.Standby => "standby",
        TargetSessionAttributes.PreferPrimary => "prefer-primary",
        TargetSessionAttributes.PreferStandby => "prefer-standby",
        TargetSessionAttributes.ReadWrite => "read-write",
        TargetSessionAttributes.ReadOnly => "read-only",
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown target session attributes."),
    };
}
