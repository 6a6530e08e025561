using System.Collections.Concurrent;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Contract;

/// <summary>
/// What every policy shape of the contract suite does to its resources, counted in one place: creations, resets and
/// destructions. Creations and resets can be held on a gate, so a test can catch a resource being created or reset.
/// </summary>
public sealed class ResourceLedger
{
    private int _nextId;
    private int _created;
    private int _destroyed;
    private int _destroyedTwice;
    private int _resets;

    /// <summary>When set, each creation waits for the task this returns (given the creation's token).</summary>
    public Func<CancellationToken, Task>? CreateGate { get; set; }

    /// <summary>When set, an asynchronous reset waits for the task this returns; a synchronous reset ignores it.</summary>
    public Func<Task>? ResetGate { get; set; }

    /// <summary>What every reset answers: <see langword="false"/> asks the pool to destroy the resource.</summary>
    public bool ResetResult { get; set; } = true;

    /// <summary>Every resource ever created, in creation order.</summary>
    public ConcurrentQueue<FakeResource> All { get; } = new();

    public int Created => Volatile.Read(ref _created);

    public int Destroyed => Volatile.Read(ref _destroyed);

    /// <summary>Resources created and not destroyed. Created is read first, so a concurrent reader never sees more than there were.</summary>
    public int Alive => Created - Destroyed;

    /// <summary>Destructions of a resource that was already destroyed: always a bug.</summary>
    public int DestroyedTwice => Volatile.Read(ref _destroyedTwice);

    public int Resets => Volatile.Read(ref _resets);

    public ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken)
    {
        if (CreateGate is { } gate)
        {
            return new ValueTask<FakeResource>(CreateAfterAsync(gate, cancellationToken));
        }

        return new ValueTask<FakeResource>(Make());
    }

    /// <summary>A reset that completes at once.</summary>
    public bool Reset(FakeResource resource)
    {
        resource.ResetCount++;
        Interlocked.Increment(ref _resets);
        return ResetResult;
    }

    /// <summary>A reset that always completes asynchronously: after the gate if one is set, else after a yield.</summary>
    public async ValueTask<bool> ResetLaterAsync(FakeResource resource)
    {
        if (ResetGate is { } gate)
        {
            await gate();
        }
        else
        {
            await Task.Yield();
        }

        return Reset(resource);
    }

    public ValueTask DestroyAsync(FakeResource resource)
    {
        if (resource.Destroyed)
        {
            Interlocked.Increment(ref _destroyedTwice);
            return default;
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

    private FakeResource Make()
    {
        var resource = new FakeResource(Interlocked.Increment(ref _nextId));
        All.Enqueue(resource);
        Interlocked.Increment(ref _created);
        return resource;
    }
}
