using System.Collections.Concurrent;

namespace PoolKit.Tests.Fakes;

/// <summary>
/// A scriptable resource policy: creations succeed synchronously by default; tests can make them fail, block
/// them on a gate, make validation or reset fail, and count everything.
/// </summary>
public sealed class FakePolicy : IResourcePolicy<FakeResource>
{
    private int _nextId;
    private int _created;
    private int _destroyed;
    private int _createAttempts;

    /// <summary>When set, each creation throws what this returns (return null to succeed).</summary>
    public Func<int, Exception?>? FailCreate { get; set; }

    /// <summary>When set, creations wait for this task before completing (it observes the token).</summary>
    public Func<CancellationToken, Task>? CreateGate { get; set; }

    /// <summary>When set, resets wait for this task (asynchronous reset).</summary>
    public Func<Task>? ResetGate { get; set; }

    public bool ResetResult { get; set; } = true;

    /// <summary>When set, classifies creation errors as ones retrying cannot fix.</summary>
    public Func<Exception, bool>? PermanentError { get; set; }

    /// <summary>When set, a creation that <see cref="FailCreate"/> fails completes asynchronously (after a yield) instead of at once.</summary>
    public bool FailAsynchronously { get; set; }

    public ConcurrentQueue<FakeResource> All { get; } = new();

    public int Created => Volatile.Read(ref _created);

    public int Destroyed => Volatile.Read(ref _destroyed);

    public int CreateAttempts => Volatile.Read(ref _createAttempts);

    public int Alive => Created - Destroyed;

    public ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken)
    {
        int attempt = Interlocked.Increment(ref _createAttempts);
        if (FailCreate?.Invoke(attempt) is { } error)
        {
            return FailAsynchronously ? new ValueTask<FakeResource>(FailLaterAsync(error)) : ValueTask.FromException<FakeResource>(error);
        }

        if (CreateGate is { } gate)
        {
            return new ValueTask<FakeResource>(CreateAfterAsync(gate, cancellationToken));
        }

        return new ValueTask<FakeResource>(Make());
    }

    public bool IsUsable(FakeResource resource) => !resource.Unusable && !resource.Destroyed;

    public bool IsPermanentCreationError(Exception exception) => PermanentError?.Invoke(exception) ?? false;

    public bool IsClosedByCaller(FakeResource resource) => resource.ClosedByCaller;

    public ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken)
    {
        resource.ValidateCount++;
        return new ValueTask<bool>(!resource.Invalid);
    }

    public ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken)
    {
        resource.ResetCount++;
        if (ResetGate is { } gate)
        {
            return new ValueTask<bool>(ResetAfterAsync(gate));
        }

        return new ValueTask<bool>(ResetResult);
    }

    public ValueTask DestroyAsync(FakeResource resource)
    {
        if (resource.Destroyed)
        {
            throw new InvalidOperationException($"{resource} destroyed twice");
        }

        resource.Destroyed = true;
        Interlocked.Increment(ref _destroyed);
        return default;
    }

    private async Task<FakeResource> CreateAfterAsync(Func<CancellationToken, Task> gate, CancellationToken cancellationToken)
    {
        await gate(cancellationToken);
        return Make();
    }

    private static async Task<FakeResource> FailLaterAsync(Exception error)
    {
        await Task.Yield();
        throw error;
    }

    private async Task<bool> ResetAfterAsync(Func<Task> gate)
    {
        await gate();
        return ResetResult;
    }

    private FakeResource Make()
    {
        var resource = new FakeResource(Interlocked.Increment(ref _nextId));
        Interlocked.Increment(ref _created);
        All.Enqueue(resource);
        return resource;
    }
}
