using System.Collections.Concurrent;

namespace PoolKit.Testing.Internal;

/// <summary>
/// Every local cluster not yet destroyed, so that a process that exits without disposing its servers still
/// stops them and deletes their directories (best effort: a killed process runs no handler at all).
/// </summary>
/// <remarks>
/// Concurrency: <see cref="s_live"/> is a concurrent dictionary used as a set; <see cref="s_hooked"/> is set
/// once by <see cref="Interlocked.Exchange(ref int, int)"/> so the exit handler is added exactly once.
/// </remarks>
internal static class LocalClusterRegistry
{
    private static readonly ConcurrentDictionary<LocalCluster, byte> s_live = new();
    private static int s_hooked;

    internal static void Register(LocalCluster cluster)
    {
        if (Interlocked.Exchange(ref s_hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => TearDownAll();
        }

        s_live.TryAdd(cluster, 0);
    }

    internal static void Unregister(LocalCluster cluster) => s_live.TryRemove(cluster, out _);

    private static void TearDownAll()
    {
        foreach (LocalCluster cluster in s_live.Keys)
        {
            cluster.EmergencyTeardown();
            s_live.TryRemove(cluster, out _);
        }
    }
}
