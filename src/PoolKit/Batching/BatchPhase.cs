namespace PoolKit;

/// <summary>The step of a unit of work in which an error happened.</summary>
public enum BatchPhase
{
    /// <summary>Acquiring a connection from the pool.</summary>
    Acquire,

    /// <summary>Beginning the transaction.</summary>
    Begin,

    /// <summary>Running the caller's operation inside the transaction.</summary>
    Execute,

    /// <summary>Committing the transaction.</summary>
    Commit,
}
