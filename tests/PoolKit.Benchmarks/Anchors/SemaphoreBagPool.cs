using System.Collections.Concurrent;

namespace PoolKit.Benchmarks.Anchors;

/// <summary>
/// The pool people usually write by hand, used as the anchor: a <see cref="SemaphoreSlim"/> bounds the number of
/// rented resources and a <see cref="ConcurrentBag{T}"/> holds the idle ones; a miss creates a new resource.
/// </summary>
/// <remarks>
/// Written the straightforward way on purpose (no hand-off, no validation, no lifetime), with one concession to
/// fairness: <see cref="RentAsync"/> returns a <see cref="ValueTask{TResult}"/>, so the uncontended path allocates
/// nothing and the anchor is not handicapped by a Task allocation PoolKit does not make.
/// Concurrency: the semaphore's count is the number of free permits; a permit is held from a successful wait
/// until <see cref="Return"/>, and the bag never holds more than <c>maxSize</c> resources.
/// </remarks>
/// <typeparam name="T">The pooled resource type.</typeparam>
public sealed class SemaphoreBagPool<T> : IDisposable
    where T : class
{
    private readonly SemaphoreSlim _semaphore;
    private readonly ConcurrentBag<T> _idle = [];
    private readonly Func<T> _create;

    /// <summary>Creates a pool of at most <paramref name="maxSize"/> resources.</summary>
    /// <param name="maxSize">How many resources may be rented at once.</param>
    /// <param name="create">Creates a resource when no idle one is there.</param>
    public SemaphoreBagPool(int maxSize, Func<T> create)
    {
        _semaphore = new SemaphoreSlim(maxSize, maxSize);
        _create = create;
    }

    /// <summary>Waits for a permit, then takes an idle resource or creates one.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The rented resource; give it back with <see cref="Return"/>.</returns>
    public async ValueTask<T> RentAsync(CancellationToken cancellationToken = default)
    {
        await _semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        return _idle.TryTake(out T? resource) ? resource : _create();
    }

    /// <summary>Puts a rented resource back and releases its permit.</summary>
    /// <param name="resource">The resource from <see cref="RentAsync"/>.</param>
    public void Return(T resource)
    {
        _idle.Add(resource);
        _semaphore.Release();
    }

    /// <inheritdoc />
    public void Dispose() => _semaphore.Dispose();
}
