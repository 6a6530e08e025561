namespace PoolKit.Testing;

/// <summary>
/// Thrown by <see cref="PostgresTestServer.StartAsync(PostgresTestServerOptions?, CancellationToken)"/> when no
/// PostgreSQL server can be provided: no connection string in the environment, no usable Docker engine and no
/// usable local PostgreSQL binaries. The message lists what was tried and says what to do about it.
/// </summary>
public sealed class PostgresUnavailableException : Exception
{
    /// <summary>Initializes a new instance with a generic message.</summary>
    public PostgresUnavailableException()
        : base("No PostgreSQL server is available for tests.")
    {
    }

    /// <summary>Initializes a new instance with the given message.</summary>
    /// <param name="message">What was tried and what to do about it.</param>
    public PostgresUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with the given message and the failure that caused it.</summary>
    /// <param name="message">What was tried and what to do about it.</param>
    /// <param name="innerException">The last failure met while trying to provide a server.</param>
    public PostgresUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
