namespace PoolKit.Tests.Fakes;

/// <summary>A pooled resource that records how it is used, so tests can prove exclusivity and lifecycle.</summary>
public sealed class FakeResource
{
    private int _users;

    public FakeResource(int id) => Id = id;

    public int Id { get; }

    public bool Destroyed { get; set; }

    /// <summary>Set by tests to make the cheap usability check fail.</summary>
    public bool Unusable { get; set; }

    /// <summary>Set by tests to make validation fail.</summary>
    public bool Invalid { get; set; }

    public int ResetCount { get; set; }

    /// <summary>Set by tests: the lease holder closed it.</summary>
    public bool ClosedByCaller { get; set; }

    public int ValidateCount { get; set; }

    /// <summary>Marks the resource as used by one more owner; returns false if somebody else already uses it.</summary>
    public bool Enter() => Interlocked.Increment(ref _users) == 1;

    public void Exit() => Interlocked.Decrement(ref _users);

    public override string ToString() => $"Resource {Id}";
}
