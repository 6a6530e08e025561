namespace PoolKit.Tests.Exploration;

/// <summary>An invariant of the pool's protocol failed in an explored schedule.</summary>
internal sealed class InvariantViolationException : Exception
{
    public InvariantViolationException(string message)
        : base("invariant violated: " + message)
    {
    }
}
