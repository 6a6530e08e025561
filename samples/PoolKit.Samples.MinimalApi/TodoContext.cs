using Microsoft.EntityFrameworkCore;

namespace PoolKit.Samples.MinimalApi;

/// <summary>The EF Core context of the sample.</summary>
/// <param name="options">The options (UseNpgsql with the PoolKit data source).</param>
public sealed class TodoContext(DbContextOptions<TodoContext> options) : DbContext(options)
{
    /// <summary>Gets the to-do items.</summary>
    public DbSet<Todo> Todos => Set<Todo>();
}
