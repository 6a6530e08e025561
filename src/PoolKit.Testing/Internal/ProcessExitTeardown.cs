using System.Collections.Concurrent;

namespace PoolKit.Testing.Internal;

/// <summary>
/// Best-effort teardowns run when the process exits without disposing what it started (PgBouncer processes,
/// standby clusters): each registered action is run once. A killed process runs no handler at all.
/// </summary>
/// <remarks>
/// Concurrency: <see cref="s_live"/> is a concurrent dictionary used as a set; <see cref="s_hooked"/> is set once by
/// <see cref="Interlocked.Exchange(ref int, int)"/> so the exit handler is added exactly once.
/// </remarks>
internal static class ProcessExitTeardown
{
    private static readonly ConcurrentDictionary<object, Action> s_live = new();
    private static int s_hooked;

    /// <summary>Registers <paramref name="teardown"/> under <paramref name="owner"/>; it must never throw.</summary>
    internal static void Register(object owner, Action teardown)
    {
        if (Interlocked.Exchange(ref s_hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => RunAll();
        }

        s_live[owner] = teardown;
    }

    internal static void Unregister(object owner) => s_live.TryRemove(owner, out _);

    private static void RunAll()
    {
        foreach (KeyValuePair<object, Action> entry in s_live)
        {
            if (s_live.TryRemove(entry.Key, out Action? teardown))
            {
                teardown();
            }
        }
    }
}
