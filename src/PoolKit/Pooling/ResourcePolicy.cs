namespace PoolKit;

/// <summary>
/// A base class for <see cref="IResourcePolicy{T}"/> whose defaults suit most resources: every resource is
/// usable and valid, reset always succeeds, and destruction disposes the resource.
/// </summary>
/// <typeparam name="T">The pooled resource type.</typeparam>
public abstract class ResourcePolicy<T> : IResourcePolicy<T>
    where T : class
{
    /// <inheritdoc />
    public abstract ValueTask<T> CreateAsync(CancellationToken cancellationToken);

    /// <inheritdoc />
    /// <remarks>The default returns <see langword="true"/>.</remarks>
    public virtual bool IsUsable(T resource) => true;

    /// <inheritdoc />
    /// <remarks>The default returns <see langword="true"/> without doing anything.</remarks>
    public virtual ValueTask<bool> ValidateAsync(T resource, CancellationToken cancellationToken) => new(true);

    /// <inheritdoc />
    /// <remarks>The default returns <see langword="true"/> without doing anything.</remarks>
    public virtual ValueTask<bool> ResetAsync(T resource, CancellationToken cancellationToken) => new(true);

    /// <inheritdoc />
    /// <remarks>The default returns <see langword="false"/>.</remarks>
    public virtual bool IsClosedByCaller(T resource) => false;

    /// <inheritdoc />
    /// <remarks>The default returns <see langword="false"/>: every creation error is worth retrying.</remarks>
    public virtual bool IsPermanentCreationError(Exception exception) => false;

    /// <inheritdoc />
    /// <remarks>The default disposes the resource if it is <see cref="IAsyncDisposable"/> or <see cref="IDisposable"/>.</remarks>
    public virtual ValueTask DestroyAsync(T resource)
    {
        if (resource is IAsyncDisposable asyncDisposable)
        {
            return asyncDisposable.DisposeAsync();
        }

        (resource as IDisposable)?.Dispose();
        return default;
    }
}
