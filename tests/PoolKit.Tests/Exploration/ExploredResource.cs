namespace PoolKit.Tests.Exploration;

/// <summary>A resource of an explored pool: its number and where it is in its life.</summary>
internal sealed class ExploredResource(int id)
{
    public int Id { get; } = id;

    /// <summary>DestroyAsync was called.</summary>
    public bool DestroyStarted { get; set; }

    /// <summary>DestroyAsync completed.</summary>
    public bool Destroyed { get; set; }

    /// <summary>The token of its last validation or reset.</summary>
    public CancellationToken LastCheckToken { get; set; }

    /// <summary>Its last validation or reset was given up on (its token cancelled: the bound, or the acquirer); the pool may replace it.</summary>
    public bool GivenUp => LastCheckToken.IsCancellationRequested;

    /// <summary>The name of the lease holder, while a caller holds it (the test's ledger).</summary>
    public string? HeldBy { get; set; }

    public override string ToString() => "r" + Id;
}
