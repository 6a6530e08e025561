namespace PoolKit.Cli.Demo;

/// <summary>The settings of <c>poolkit demo</c>.</summary>
internal sealed class DemoOptions
{
    /// <summary>Gets or sets how many rows each way inserts.</summary>
    /// <value>Default 20,000. At least 1.</value>
    public int Rows { get; set; } = 20_000;

    /// <summary>Gets or sets how many rows the no-pool sample inserts (0 skips it): a physical connection per insert is slow.</summary>
    /// <value>Default 500. At least 0.</value>
    public int NoPoolRows { get; set; } = 500;

    /// <summary>Gets or sets how many inserts run at once in every way (and the pool's MaxSize).</summary>
    /// <value>Default 8. At least 1.</value>
    public int Parallelism { get; set; } = 8;

    /// <summary>Gets or sets how many inserts the chunked way commits per transaction.</summary>
    /// <value>Default 1,000. At least 1.</value>
    public int ChunkSize { get; set; } = 1_000;

    /// <summary>Lists every invalid setting.</summary>
    /// <returns>The problems, empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        List<string> errors = [];
        if (Rows < 1)
        {
            errors.Add($"--rows is {Rows}; it must be at least 1.");
        }

        if (NoPoolRows < 0)
        {
            errors.Add($"--no-pool-rows is {NoPoolRows}; it must be at least 0.");
        }

        if (Parallelism is < 1 or > 1_000)
        {
            errors.Add($"--parallelism is {Parallelism}; it must be between 1 and 1000.");
        }

        if (ChunkSize < 1)
        {
            errors.Add($"--chunk is {ChunkSize}; it must be at least 1.");
        }

        return errors;
    }
}
