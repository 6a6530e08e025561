namespace PoolKit.Samples.MinimalApi;

/// <summary>A to-do item.</summary>
public sealed class Todo
{
    /// <summary>Gets or sets the id (assigned by the database).</summary>
    public int Id { get; set; }

    /// <summary>Gets or sets what to do.</summary>
    public string Title { get; set; } = "";

    /// <summary>Gets or sets whether it is done.</summary>
    public bool Done { get; set; }
}
