namespace PoolKit.Tests.Exploration;

/// <summary>A resource of an explored pool: its number and where it is in its life.</summary>
internal sealed class ExploredResource(int id)
{
    public int Id { get; } = id;

    /// <summary>DestroyAsync was called.</summary>
    public bool DestroyStarted { get; set; }

    /// <summary>DestroyAsync completed.</summary>
    public bool Destroyed { get; set; }

    /// <summary>The name of the lease holder, while a caller holds it (the test's ledger).</summary>
    public string? HeldBy { get; set; }

    public override string ToString() => "r" + Id;
}
