namespace PoolKit;

/// <summary>
/// Thrown to an acquirer when the pool needed a new resource and could not create one: the creation timed
/// out, or recent creations failed and the pool, holding no resource that could come back, fails fast
/// during its back-off instead of hammering the server. The original error is the inner exception.
/// </summary>
/// <remarks>
/// The acquirer whose own creation attempt failed receives the original exception itself, not this type.
/// </remarks>
public sealed class ResourceCreationException : Exception
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="poolName">The pool's name.</param>
    /// <param name="message">What happened.</param>
    /// <param name="innerException">The creation error, if there was one.</param>
    public ResourceCreationException(string poolName, string message, Exception? innerException)
        : base(message, innerException)
    {
        PoolName = poolName;
    }

    /// <summary>Gets the pool's name.</summary>
    public string PoolName { get; }
}
