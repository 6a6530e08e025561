using System.Data;
using System.Runtime.CompilerServices;
using Npgsql;
using PoolKit.Npgsql.Internal;

namespace PoolKit.Npgsql;

/// <summary>
/// The lifecycle of pooled <see cref="NpgsqlConnection"/>s: opens them from a non-pooling
/// <see cref="NpgsqlDataSource"/>, checks them cheaply on every hand-out, validates idle ones with a round trip,
/// resets them on return and closes them for good.
/// </summary>
/// <remarks>
/// <para>Use it directly with <see cref="ConnectionPool{T}"/>, or let <see cref="NpgsqlConnectionPool"/> build both.
/// The policy does not own the data source: whoever created it disposes it after the pool.</para>
/// <para><see cref="IsUsable"/> accepts only a connection whose <see cref="NpgsqlConnection.FullState"/> is exactly
/// <see cref="ConnectionState.Open"/>: Npgsql marks a connection <c>Broken</c> after an I/O error or a fatal server
/// error, and a reader left open (Executing/Fetching) is not reusable either. A backend terminated while the
/// connection sat idle is invisible to that check (nothing has been read yet); the round trip of
/// <see cref="ValidateAsync"/> catches it once the connection has been idle longer than
/// <see cref="ConnectionPoolOptions.ValidationBypassWindow"/>. Within the window the next command fails with the
/// server's error (for example 57P01), which <see cref="NpgsqlErrorClassifier"/> reports as a broken connection.</para>
/// <para>Concurrency: the only shared state is <see cref="s_abandonedValidations"/> (a thread-safe
/// <see cref="ConditionalWeakTable{TKey, TValue}"/>): a validation that outlives its timeout is abandoned so the
/// acquirer is not held past its deadline (Npgsql may need its <c>Cancellation Timeout</c> to give up on a frozen
/// server), and <see cref="DestroyAsync"/> waits for it before closing the connection, which must not be closed
/// while a command still runs on it.</para>
/// </remarks>
public sealed class NpgsqlConnectionPolicy : ResourcePolicy<NpgsqlConnection>
{
    private static readonly ConditionalWeakTable<NpgsqlConnection, Task> s_abandonedValidations = new();

    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlResetMode _resetMode;
    private readonly string _discardSql;

    // The in_hot_standby value a connection must not report to be handed out: "on" for a pool that targets the primary
    // (Target Session Attributes = primary or read-write), "off" for one that targets standbys (standby); null when the
    // pool targets any server (the default), where the check is skipped.
    private readonly string? _evictWhenHotStandby;

    // Whether Discard queues its reset in front of the next command (Npgsql's own lazy reset). Starts true for
    // Discard when the Npgsql internals bind; turned false (never back) by any thread when a connection cannot be
    // armed at open, after which every return resets with a round trip. A stale true only reaches a connection that
    // was armed, which the queued reset handles; a stale false costs one round trip.
    private volatile bool _prepend;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="dataSource">Where connections come from. Its connection string must have <c>Pooling=false</c>.</param>
    /// <param name="resetMode">How returned connections are reset. Default <see cref="NpgsqlResetMode.Discard"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is null.</exception>
    /// <exception cref="ArgumentException">The data source pools connections itself, or <paramref name="resetMode"/> is not defined.</exception>
    public NpgsqlConnectionPolicy(NpgsqlDataSource dataSource, NpgsqlResetMode resetMode = NpgsqlResetMode.Discard)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        if (!Enum.IsDefined(resetMode))
        {
            throw new ArgumentException($"ResetMode = {(int)resetMode}: must be None, RollbackOnly, Discard or DiscardOnReturn.", nameof(resetMode));
        }

        var settings = new NpgsqlConnectionStringBuilder(dataSource.ConnectionString);
        if (settings.Pooling)
        {
            throw new ArgumentException(
                "The data source pools connections itself (Pooling=true): PoolKit must be the only pool, or its bounds mean nothing. Build the data source with Pooling=false, or let NpgsqlConnectionPool build it.",
                nameof(dataSource));
        }

        _dataSource = dataSource;
        _resetMode = resetMode;
        _discardSql = settings.MaxAutoPrepare > 0 ? NpgsqlSessionReset.DiscardKeepingPrepared : NpgsqlSessionReset.DiscardAll;
        _prepend = resetMode == NpgsqlResetMode.Discard && NpgsqlPrependedReset.Probe();
        _evictWhenHotStandby = TargetRole(settings.TargetSessionAttributes);
    }

    /// <summary>Gets how returned connections are reset.</summary>
    public NpgsqlResetMode ResetMode => _resetMode;

    /// <summary>
    /// Gets whether <see cref="NpgsqlResetMode.Discard"/> queues its reset in front of the next command (no round trip
    /// of its own), as Npgsql's pool does. <see langword="false"/> for the other modes, and for
    /// <see cref="NpgsqlResetMode.Discard"/> where this Npgsql version's internals are not available (each return then
    /// costs a round trip, as with <see cref="NpgsqlResetMode.DiscardOnReturn"/>).
    /// </summary>
    public bool QueuesResetWithNextCommand => _prepend;

    /// <inheritdoc />
    /// <exception cref="NpgsqlException">The connection could not be opened (the server's or the network's error).</exception>
    /// <remarks>
    /// Honors <paramref name="cancellationToken"/> promptly even where Npgsql would wait for its own connect
    /// <c>Timeout</c> (a server that accepts TCP connections but never answers, such as a frozen one): the open is
    /// abandoned and its connection, if it ever completes, closed in the background.
    /// </remarks>
    public override async ValueTask<NpgsqlConnection> CreateAsync(CancellationToken cancellationToken)
    {
        Task<NpgsqlConnection> opening = _dataSource.OpenConnectionAsync(cancellationToken).AsTask();
        NpgsqlConnection connection;
        try
        {
            connection = await opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!opening.IsCompleted)
        {
            _ = opening.ContinueWith(
                static t => t.Result.DisposeAsync().AsTask(),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default).Unwrap();
            throw;
        }

        if (_prepend && !NpgsqlPrependedReset.TryArm(connection))
        {
            _prepend = false;
        }

        return connection;
    }

    /// <inheritdoc />
    /// <remarks>
    /// True for the server's answers that retrying the same connection string cannot change: a wrong password
    /// (<c>28P01</c>), a login refused by <c>pg_hba.conf</c> or an unknown role (<c>28000</c>), a database that does not
    /// exist (<c>3D000</c>) and a missing <c>CONNECT</c> privilege (<c>42501</c>). Overloads, restarts and network
    /// errors stay worth retrying.
    /// </remarks>
    public override bool IsPermanentCreationError(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification or PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.InsufficientPrivilege })
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    /// <remarks>
    /// True only when <see cref="NpgsqlConnection.FullState"/> is exactly <see cref="ConnectionState.Open"/> and, for a
    /// pool whose <c>Target Session Attributes</c> is <c>primary</c>, <c>read-write</c> or <c>standby</c>, the server
    /// is still what the pool targets: PostgreSQL 14 and later report <c>in_hot_standby</c> to every session when a
    /// standby is promoted, and a connection whose server no longer matches is destroyed instead of handed out (Npgsql
    /// reads the report with the connection's next answer, so it is seen after the connection's next use).
    /// </remarks>
    public override bool IsUsable(NpgsqlConnection resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.FullState == ConnectionState.Open
            && (_evictWhenHotStandby is null
                || !resource.PostgresParameters.TryGetValue("in_hot_standby", out string? hotStandby)
                || !string.Equals(hotStandby, _evictWhenHotStandby, StringComparison.Ordinal));
    }

    /// <inheritdoc />
    /// <remarks>Runs <c>SELECT 1</c>; the pool bounds it by <see cref="ConnectionPoolOptions.ValidationTimeout"/> through the token.</remarks>
    public override async ValueTask<bool> ValidateAsync(NpgsqlConnection resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (resource.FullState != ConnectionState.Open)
        {
            return false;
        }

        var command = new NpgsqlCommand("SELECT 1", resource);
        Task<object?> running = command.ExecuteScalarAsync(cancellationToken);
        try
        {
            object? result = await running.WaitAsync(cancellationToken).ConfigureAwait(false);
            return result is 1 && resource.FullState == ConnectionState.Open;
        }
        catch (OperationCanceledException) when (!running.IsCompleted)
        {
            // Give up now; DestroyAsync waits for the command (Npgsql ends it within its Cancellation Timeout).
            s_abandonedValidations.AddOrUpdate(resource, running);
            throw;
        }
        finally
        {
            if (running.IsCompleted)
            {
                await command.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc />
    /// <remarks>See <see cref="NpgsqlResetMode"/> for what each mode does and costs.</remarks>
    public override ValueTask<bool> ResetAsync(NpgsqlConnection resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return NpgsqlSessionReset.ResetAsync(resource, _resetMode, _discardSql, _prepend, cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>Closes the physical connection (Npgsql's pooling is off, so disposing really closes it).</remarks>
    public override ValueTask DestroyAsync(NpgsqlConnection resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        if (s_abandonedValidations.TryGetValue(resource, out Task? running))
        {
            s_abandonedValidations.Remove(resource);
            return DestroyAfterAsync(resource, running);
        }

        return resource.DisposeAsync();
    }

    private static string? TargetRole(string? targetSessionAttributes) => targetSessionAttributes?.Trim().ToLowerInvariant() switch
    {
        "primary" or "read-write" => "on",
        "standby" => "off",
        _ => null,
    };

    private static async ValueTask DestroyAfterAsync(NpgsqlConnection resource, Task running)
    {
        try
        {
            await running.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Expected: the abandoned validation fails when Npgsql cancels it or breaks the connection.
        }

        await resource.DisposeAsync().ConfigureAwait(false);
    }
}
