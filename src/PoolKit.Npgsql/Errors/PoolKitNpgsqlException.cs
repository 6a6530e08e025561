using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>
/// Thrown by PoolKit.Npgsql when the pool, rather than the server, could not provide a connection: the pool was
/// exhausted (<see cref="PoolExhaustedException"/>) or could not create a connection in time or failed fast during
/// its back-off after failed attempts (<see cref="ResourceCreationException"/>). The PoolKit error is the
/// <see cref="Exception.InnerException"/>; the server's or the network's error, when there was one, is its inner
/// exception in turn.
/// </summary>
/// <remarks>
/// <para>Its <see cref="Exception.Message"/> is one stable text per condition, whatever the counts and delays (so logs
/// group by it): the wait queue was full; every connection was in use for AcquireTimeout; or no connection could be
/// opened (an outage, a failover, a bad password: <see cref="SqlState"/> and <see cref="IsTransient"/> tell which). The
/// details are in the inner exceptions' properties (<see cref="PoolExhaustedException.Statistics"/>,
/// <see cref="PoolExhaustedException.Waited"/>, <see cref="PoolExhaustedException.LongestHeldLeases"/>) and in the
/// pool's structured log lines.</para>
/// <para>It is an <see cref="NpgsqlException"/> (and so a <see cref="System.Data.Common.DbException"/>), so retry rules
/// written as <c>catch (NpgsqlException e) when e.IsTransient</c>, Polly pipelines and EF Core's retrying execution
/// strategy see every error from opening a connection through PoolKit. Errors the server or the network raised
/// while PoolKit opened a connection for this very caller reach it unchanged (an <see cref="NpgsqlException"/> or a
/// <see cref="PostgresException"/>).</para>
/// <para><see cref="IsTransient"/> is <see langword="true"/> exactly when a retry can succeed without an operator:
/// the connection attempts failed with a transient error (refused, reset, 53300 too_many_connections, 57P03
/// cannot_connect_now, a timeout while connecting) or timed out. It is <see langword="false"/> when the last attempt
/// failed permanently (bad password, unknown database) and when the pool was exhausted because all
/// <see cref="ConnectionPoolOptions.MaxSize"/> connections were in use: that is a capacity problem of the application,
/// and retrying it adds load to a pool that is already saturated.</para>
/// </remarks>
public sealed class PoolKitNpgsqlException : NpgsqlException
{
    private readonly bool _isTransient;

    /// <summary>Initializes a new instance wrapping a PoolKit error.</summary>
    /// <param name="poolName">The pool's name.</param>
    /// <param name="innerException">The <see cref="PoolExhaustedException"/> or <see cref="ResourceCreationException"/>.</param>
    /// <param name="isTransient">Whether a retry can succeed without an operator.</param>
    /// <exception cref="ArgumentNullException"><paramref name="poolName"/> or <paramref name="innerException"/> is null.</exception>
    public PoolKitNpgsqlException(string poolName, Exception innerException, bool isTransient)
        : base(Describe(poolName, innerException), innerException)
    {
        ArgumentNullException.ThrowIfNull(poolName);
        ArgumentNullException.ThrowIfNull(innerException);
        PoolName = poolName;
        _isTransient = isTransient;
    }

    /// <summary>Gets the pool's name.</summary>
    public string PoolName { get; }

    /// <summary>Gets whether the pool was exhausted (the inner exception is a <see cref="PoolExhaustedException"/>).</summary>
    public bool IsPoolExhausted => InnerException is PoolExhaustedException;

    /// <summary>Gets whether a retry can succeed without an operator (see the remarks of the type).</summary>
    public override bool IsTransient => _isTransient;

    /// <summary>Gets the SQLSTATE of the server's error behind the failure, if the server answered (for example 53300).</summary>
    public override string? SqlState => Find<PostgresException>(InnerException)?.SqlState;

    /// <summary>Wraps the PoolKit errors of an acquire; any other exception is returned as it is.</summary>
    /// <param name="poolName">The pool's name.</param>
    /// <param name="error">The error the pool threw.</param>
    /// <returns>The exception to throw to the caller.</returns>
    /// <remarks>
    /// Npgsql's multi-host errors ("No suitable host was found.", "Unable to connect to a suitable host") are wrapped
    /// too when they reach the caller whose own open raised them, so that during a failover every caller gets the same
    /// type, message and <see cref="IsTransient"/>, whether its open failed or the pool failed it fast.
    /// </remarks>
    internal static Exception Translate(string poolName, Exception error) => error switch
    {
        PoolExhaustedException exhausted => new PoolKitNpgsqlException(poolName, exhausted, IsOutage(exhausted)),
        ResourceCreationException creation => new PoolKitNpgsqlException(poolName, creation, creation.InnerException is null || IsTransientConnectError(creation.InnerException)),
        NpgsqlException multiHost when ConnectErrors.IsMultiHost(multiHost) => new PoolKitNpgsqlException(poolName, multiHost, IsTransientConnectError(multiHost)),
        _ => error,
    };

    /// <summary>Whether <see cref="Translate"/> wraps <paramref name="error"/>.</summary>
    internal static bool IsTranslated(Exception error) =>
        error is PoolExhaustedException or ResourceCreationException || (error is NpgsqlException npgsql && ConnectErrors.IsMultiHost(npgsql));

    /// <summary>
    /// An exhausted pool is an outage, not a capacity problem, when its connections were not all leased (it could not
    /// create more: the missing ones were being created, destroyed or not there) and the last creation error was
    /// transient.
    /// </summary>
    private static bool IsOutage(PoolExhaustedException exhausted) =>
        exhausted.Reason == PoolExhaustedReason.Timeout
        && !AllLeased(exhausted)
        && exhausted.InnerException is { } last
        && IsTransientConnectError(last);

    /// <summary>Whether every connection was in callers' hands: the capacity condition, as opposed to an outage.</summary>
    /// <remarks>Not <see cref="PoolStatistics.Live"/>: during an outage, creations in flight make a pool look full.</remarks>
    private static bool AllLeased(PoolExhaustedException exhausted) => exhausted.Statistics.Leased >= exhausted.Statistics.MaxSize;

    /// <summary>One stable text per condition: no counts, no delays (they are in the inner exceptions' properties).</summary>
    private static string Describe(string? poolName, Exception? error) => error switch
    {
        PoolExhaustedException { Reason: PoolExhaustedReason.WaitQueueFull } =>
            $"Pool '{poolName}' is exhausted and its wait queue is full: raise MaxWaiters or MaxSize, or shed load earlier.",
        PoolExhaustedException exhausted when AllLeased(exhausted) =>
            $"Pool '{poolName}' could not provide a connection within AcquireTimeout: all connections are in use. Raise MaxSize or AcquireTimeout, or return connections sooner.",
        _ => $"Pool '{poolName}' could not open a connection to the database; the database's or the network's error, if there was one, is the innermost exception.",
    };

    private static bool IsTransientConnectError(Exception error) => ConnectErrors.IsTransient(error);

    private static T? Find<T>(Exception? error)
        where T : Exception
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is T found)
            {
                return found;
            }
        }

        return null;
    }
}
