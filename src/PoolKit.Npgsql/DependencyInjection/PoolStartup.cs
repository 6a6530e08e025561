namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>One registered pool's start: builds it (so it warms up to MinSize) and, if asked, waits for it.</summary>
/// <param name="Name">The pool's registration name.</param>
/// <param name="StartAsync">Resolves the pool and waits as its options say.</param>
internal sealed record PoolStartup(string Name, Func<IServiceProvider, CancellationToken, Task> StartAsync);
