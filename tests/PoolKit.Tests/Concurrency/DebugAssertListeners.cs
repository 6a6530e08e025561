using System.Diagnostics;

namespace PoolKit.Tests.Concurrency;

/// <summary>Tests that replace the process-wide <see cref="Trace.Listeners"/> (where Debug.Assert reports) run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DebugAssertListeners
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Debug.Assert provider";
}
