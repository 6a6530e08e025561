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
/// error, and a reader left open (Executing/Fetching) is not reusable either. A backend that ended while the
/// connection sat idle (<c>pg_terminate_backend</c>, a restart, <c>idle_session_timeout</c>, a load balancer's cut)
/// is found without a round trip: PostgreSQL sends its error and closes the socket, and <see cref="IsUsable"/> looks
/// at the idle connection's socket (one zero-timeout <c>poll(2)</c>; the waiting bytes are peeked, not consumed, only
/// when something is readable), so such a connection is destroyed instead of handed out. The look is skipped for a
/// connection handed out again within a millisecond of its return (a busy pool's common case: see
/// <c>HangupCheckBypass</c>). A pending notification
/// (a LISTEN the queued reset has not undone yet) does not count as ended, except under TLS or GSS encryption, where
/// the waiting bytes cannot be read and any of them replace the connection. Where this Npgsql version's internals do
/// not allow the look (logged once when the pool is built), such a connection is caught by the round trip of
/// <see cref="ValidateAsync"/> once it has been idle longer than
/// <see cref="ConnectionPoolOptions.ValidationBypassWindow"/>, and within the window its first command fails with the
/// server's error (for example 57P01), which <see cref="NpgsqlErrorClassifier"/> reports as a broken connection.</para>
/// <para>Concurrency: the shared state is <see cref="s_abandonedValidations"/> and <see cref="_returnedAt"/> (thread-safe
/// <see cref="ConditionalWeakTable{TKey, TValue}"/>s; a connection's return timestamp is written at its return and read
/// at its next hand-out, which the pool's hand-off orders), and <see cref="_prepend"/>. A validation that outlives its timeout is abandoned so the
/// acquirer is not held past its deadline (Npgsql may need its <c>Cancellation Timeout</c> to give up on a frozen
/// server), and <see cref="DestroyAsync"/> waits for it before closing the connection, which must not be closed
/// while a command still runs on it.</para>
/// </remarks>
public sealed class NpgsqlConnectionPolicy : ResourcePolicy<NpgsqlConnection>
{
    private static readonly ConditionalWeakTable<NpgsqlConnection, Task> s_abandonedValidations = new();

    /// <summary>
    /// How soon after its return (or its creation) a connection is handed out again without the look at its socket:
    /// HikariCP's alive-bypass idea, at a millisecond. PERF: the look is one <c>poll(2)</c>, about 0.7 µs here, which
    /// would make a busy pool's acquire+return several times slower; a server that ends a session within a millisecond
    /// of its return is met by the next command, as without the look.
    /// </summary>
    internal static readonly TimeSpan HangupCheckBypass = TimeSpan.FromMilliseconds(1);

    // When each connection was last returned (or created), in _time's timestamps: written by the thread that returns it
    // (ResetAsync) and read by the one that hands it out (IsUsable), ordered by the pool's hand-off. A box per
    // connection, allocated once.
    private readonly ConditionalWeakTable<NpgsqlConnection, StrongBox<long>> _returnedAt = new();
    private readonly TimeProvider _time;
    private readonly long _bypassTimestampTicks;

    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlResetMode _resetMode;

    // The in_hot_standby value a connection must not report to be handed out: "on" for a pool that targets the primary
    // (Target Session Attributes = primary or read-write), "off" for one that targets standbys (standby); null when the
    // pool targets any server (the default), where the check is skipped.
    private readonly string? _evictWhenHotStandby;

    // Whether Discard queues its reset in front of the next command (Npgsql's own lazy reset). Starts true for
    // Discard when the Npgsql internals bind; turned false (never back) by any thread when a connection cannot be
    // armed at open, after which every return resets with a round trip. A stale true only reaches a connection that
    // was armed, which the queued reset handles; a stale false costs one round trip.
    private volatile bool _prepend;

    // The database the data source's connections open on, read from the first one created (the connection string may
    // leave it to default). A returned connection on another one (ChangeDatabase through lease.Resource) is destroyed.
    // Written by any creating thread; every write stores the same value.
    private volatile string? _database;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="dataSource">Where connections come from. Its connection string must have <c>Pooling=false</c>.</param>
    /// <param name="resetMode">How returned connections are reset. Default <see cref="NpgsqlResetMode.Discard"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is null.</exception>
    /// <exception cref="ArgumentException">The data source pools connections itself, or <paramref name="resetMode"/> is not defined.</exception>
    public NpgsqlConnectionPolicy(NpgsqlDataSource dataSource, NpgsqlResetMode resetMode = NpgsqlResetMode.Discard)
        : this(dataSource, resetMode, TimeProvider.System)
    {
    }

    /// <summary>Initializes a new instance with the pool's clock.</summary>
    internal NpgsqlConnectionPolicy(NpgsqlDataSource dataSource, NpgsqlResetMode resetMode, TimeProvider timeProvider)
    {
        _time = timeProvider;
        _bypassTimestampTicks = (long)(HangupCheckBypass.TotalSeconds * timeProvider.TimestampFrequency);
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
    /// abandoned and its connection, if it ever completes, closed in the background. With a multi-host connection
    /// string, an open that Npgsql failed without trying any host ("No suitable host was found.": every host remembered
    /// as down or of the wrong role) makes it forget the remembered roles
    /// (<see cref="NpgsqlMultiHostDataSource.ClearDatabaseStates"/>), so the next attempt, paced by the pool's creation
    /// back-off, finds a standby promoted meanwhile instead of failing without trying until <c>Host Recheck Seconds</c>
    /// have passed.
    /// </remarks>
    public override async ValueTask<NpgsqlConnection> CreateAsync(CancellationToken cancellationToken)
    {
        Task<NpgsqlConnection> opening = _dataSource.OpenConnectionAsync(cancellationToken).AsTask();
        NpgsqlConnection connection;
        try
        {
            connection = await opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException error) when (_dataSource is NpgsqlMultiHostDataSource multiHost && error is { InnerException: null, Message: ConnectErrors.NoSuitableHost })
        {
            // Npgsql's multi-host data source remembers each host's role (primary, standby, offline) for Host Recheck
            // Seconds and fails an open at once, without trying any host, while no remembered role fits: after a
            // failover that is up to 10 s (the default) of "No suitable host was found." with the new primary up. The
            // pool's creation back-off already paces the attempts, so the next one looks at the hosts as they are now.
            // Only this error clears: an open that did try the hosts (a refused or timed-out connect) keeps what it
            // learnt, so a host that swallows connects costs one connect timeout per clear, not one per attempt.
            multiHost.ClearDatabaseStates();
            throw;
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

        if (NpgsqlTransactionState.TryGetInTransaction(connection) == true)
        {
            // A physical connection initializer (NpgsqlDataSourceBuilder.UsePhysicalConnectionInitializer) began a
            // transaction and left it open: handing the connection out would put its first user inside it.
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException(
                "The new connection is inside a transaction: the data source's physical connection initializer (UsePhysicalConnectionInitializer) left one open. Commit or roll it back in the initializer.");
        }

        _database ??= connection.Database;
        if (_prepend && !NpgsqlPrependedReset.TryArm(connection))
        {
            _prepend = false;
        }

        _returnedAt.GetValue(connection, static _ => new StrongBox<long>()).Value = _time.GetTimestamp();
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
    /// True only when <see cref="NpgsqlConnection.FullState"/> is exactly <see cref="ConnectionState.Open"/>, the server
    /// has not ended the session while the connection sat idle (see the class remarks), and, for a
    /// pool whose <c>Target Session Attributes</c> is <c>primary</c>, <c>read-write</c> or <c>standby</c>, the server
    /// is still what the pool targets: PostgreSQL 14 and later report <c>in_hot_standby</c> to every session when a
    /// standby is promoted, and a connection whose server no longer matches is destroyed instead of handed out (Npgsql
    /// reads the report with the connection's next answer, so it is seen after the connection's next use).
    /// </remarks>
    public override bool IsUsable(NpgsqlConnection resource)
    {
        ArgumentNullException.ThrowIfNull(resource);
        return resource.FullState == ConnectionState.Open
            && (ReturnedJustNow(resource) || !NpgsqlServerHangup.HasEnded(resource))
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
    /// <remarks>
    /// See <see cref="NpgsqlResetMode"/> for what each mode does and costs. In every mode, the <c>Notice</c> and
    /// <c>Notification</c> handlers added during the lease are removed, and a connection moved to another database
    /// (<c>ChangeDatabase</c>) is destroyed rather than reused. With <see cref="NpgsqlResetMode.Discard"/>, so is one its
    /// user closed and reopened (its new physical connection is not armed for the queued reset); the other modes
    /// reset such a connection like any other.
    /// </remarks>
    public override ValueTask<bool> ResetAsync(NpgsqlConnection resource, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(resource);
        NpgsqlLeaseLeftovers.ClearHandlers(resource);
        string? database = _database;
        if (database is not null && !string.Equals(resource.Database, database, StringComparison.Ordinal))
        {
            return new ValueTask<bool>(false);
        }

        _returnedAt.GetValue(resource, static _ => new StrongBox<long>()).Value = _time.GetTimestamp();
        return NpgsqlSessionReset.ResetAsync(resource, _resetMode, _prepend, cancellationToken);
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

    /// <summary>Whether the connection came back (or was created) within <see cref="HangupCheckBypass"/>.</summary>
    private bool ReturnedJustNow(NpgsqlConnection resource) =>
        _returnedAt.TryGetValue(resource, out StrongBox<long>? returnedAt)
        && _time.GetTimestamp() - Volatile.Read(ref returnedAt.Value) < _bypassTimestampTicks;

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
