namespace PoolKit.Benchmarks.EndToEnd;

/// <summary>One way of running one operation (for example, <c>SELECT 1</c> through a given pool), measured by <see cref="ScenarioRunner"/>.</summary>
/// <remarks>Implementations are called concurrently by many tasks and must be thread-safe.</remarks>
public abstract class Scenario : IAsyncDisposable
{
    /// <summary>Gets the row name in the results table.</summary>
    public abstract string Name { get; }

    /// <summary>Gets the name of the scenario this one is compared against, or <see langword="null"/> for an anchor.</summary>
    public virtual IReadOnlyList<string> ComparedWith => [];

    /// <summary>
    /// Gets the application name the row's connections carry, so the server's sessions can be counted per row, or
    /// <see langword="null"/> when they are not counted (a row that opens a session per operation).
    /// </summary>
    public virtual string? ApplicationName => null;

    /// <summary>Runs one operation.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task that completes when the operation is done.</returns>
    public abstract ValueTask ExecuteAsync(CancellationToken cancellationToken);

    /// <inheritdoc />
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return default;
    }
}
