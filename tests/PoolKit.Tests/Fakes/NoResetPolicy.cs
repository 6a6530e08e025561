namespace PoolKit.Tests.Fakes;

/// <summary>
/// A <see cref="ResourcePolicy{T}"/> that keeps the default ResetAsync and IsUsable, so the pool takes its one-CAS
/// return path; counts creations and destructions.
/// </summary>
public sealed class NoResetPolicy : ResourcePolicy<FakeResource>
{
    private int _created;
    private int _destroyed;

    public int Created => Volatile.Read(ref _created);

    public int Alive => Created - Volatile.Read(ref _destroyed);

    public override ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken) =>
        new(new FakeResource(Interlocked.Increment(ref _created)));

    public override ValueTask DestroyAsync(FakeResource resource)
    {
        resource.Destroyed = true;
        Interlocked.Increment(ref _destroyed);
        return default;
    }
}
