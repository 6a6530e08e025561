using System.Data.Common;
using Dapper;
using Microsoft.EntityFrameworkCore;
using PoolKit;
using PoolKit.Npgsql;
using PoolKit.Samples.MinimalApi;

WebApplicationBuilder builder = WebApplication.CreateBuilder(args);

// The pool: options from PoolKit:default, the connection string from ConnectionStrings:default. It is built and
// warmed up to MinSize when the host starts, and StartupTimeout fails the start if the database cannot be reached.
builder.Services.AddNpgsqlConnectionPool("default", builder.Configuration.GetSection("PoolKit:default"));

// EF Core on the same pool: the data source face hands EF connections that return to PoolKit when EF closes them.
builder.Services.AddDbContextPool<TodoContext>((sp, options) => options.UseNpgsql(sp.GetRequiredService<DbDataSource>()));

builder.Services.AddHealthChecks().AddPoolKitNpgsql();

WebApplication app = builder.Build();

if (app.Configuration.GetValue<bool>("Sample:CreateSchema"))
{
    // EnsureCreated creates the tables of an existing database (creating the database itself needs an NpgsqlConnection).
    await using AsyncServiceScope scope = app.Services.CreateAsyncScope();
    await scope.ServiceProvider.GetRequiredService<TodoContext>().Database.EnsureCreatedAsync();
}

app.MapHealthChecks("/health");

// Dapper: the NpgsqlDataSource habit, 'await using' an opened connection, returns it to the pool.
app.MapGet("/dapper/todos/count", async (DbDataSource dataSource, CancellationToken cancellationToken) =>
{
    await using DbConnection connection = await dataSource.OpenConnectionAsync(cancellationToken);
    return new { Count = await connection.ExecuteScalarAsync<long>(new CommandDefinition("""SELECT count(*) FROM "Todos" """, cancellationToken: cancellationToken)) };
});

// EF Core.
app.MapPost("/ef/todos", async (TodoContext db, Todo todo, CancellationToken cancellationToken) =>
{
    db.Todos.Add(todo);
    await db.SaveChangesAsync(cancellationToken);
    return Results.Created($"/ef/todos/{todo.Id}", todo);
});
app.MapGet("/ef/todos", (TodoContext db, CancellationToken cancellationToken) => db.Todos.OrderBy(t => t.Id).ToListAsync(cancellationToken));

// The pool's own view.
app.MapGet("/pool", (NpgsqlConnectionPool pool) =>
{
    PoolStatistics s = pool.GetStatistics();
    return new { s.Idle, s.Leased, s.MaxSize, s.TotalCreated, s.TotalDestroyed, pool.ClosedByCaller };
});

await app.RunAsync();

/// <summary>The entry point, visible to WebApplicationFactory.</summary>
public partial class Program;
