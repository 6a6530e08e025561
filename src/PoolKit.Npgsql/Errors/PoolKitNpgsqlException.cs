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
        : base(innerException?.Message, innerException)
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
    internal static Exception Translate(string poolName, Exception error) => error switch
    {
        PoolExhaustedException exhausted => new PoolKitNpgsqlException(poolName, exhausted, IsOutage(exhausted)),
        ResourceCreationException creation => new PoolKitNpgsqlException(poolName, creation, creation.InnerException is null || IsTransientConnectError(creation.InnerException)),
        _ => error,
    };

    /// <summary>
    /// An exhausted pool is an outage, not a capacity problem, when it was not full (it could not create
    /// connections) and the last creation error was transient.
    /// </summary>
    private static bool IsOutage(PoolExhaustedException exhausted) =>
        exhausted.Reason == PoolExhaustedReason.Timeout
        && exhausted.Statistics.Live < exhausted.Statistics.MaxSize
        && exhausted.InnerException is { } last
        && IsTransientConnectError(last);

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
