namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>The end-to-end scenario runner (placeholder until the scenarios land).</summary>
public static class ScenarioRunner
{
    /// <summary>Runs the scenarios.</summary>
    /// <param name="args">The options.</param>
    /// <returns>The exit code.</returns>
    public static Task<int> RunAsync(string[] args)
    {
        Console.Error.WriteLine($"e2e is not implemented yet ({args.Length} arguments ignored)");
        return Task.FromResult(1);
    }
}
