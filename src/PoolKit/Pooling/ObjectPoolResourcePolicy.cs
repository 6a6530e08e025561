using Microsoft.Extensions.ObjectPool;

namespace PoolKit;

/// <summary>
/// Adapts a synchronous <see cref="IPooledObjectPolicy{T}"/> from Microsoft.Extensions.ObjectPool into an
/// <see cref="IResourcePolicy{T}"/>: <see cref="IPooledObjectPolicy{T}.Create"/> creates, and
/// <see cref="IPooledObjectPolicy{T}.Return"/> resets (returning <see langword="false"/> destroys the object).
/// </summary>
/// <typeparam name="T">The pooled resource type.</typeparam>
public sealed class ObjectPoolResourcePolicy<T> : ResourcePolicy<T>
    where T : class
{
    private readonly IPooledObjectPolicy<T> _policy;

    /// <summary>Initializes a new adapter.</summary>
    /// <param name="policy">The synchronous policy to adapt.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/> is <see langword="null"/>.</exception>
    public ObjectPoolResourcePolicy(IPooledObjectPolicy<T> policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _policy = policy;
    }

    /// <inheritdoc />
    public override ValueTask<T> CreateAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new ValueTask<T>(_policy.Create());
    }

    /// <inheritdoc />
    public override ValueTask<bool> ResetAsync(T resource, CancellationToken cancellationToken) => new(_policy.Return(resource));
}
