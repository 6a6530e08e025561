using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Integration;

/// <summary>EF Core on PoolKit-pooled connections, registered through DI as the README shows.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class EntityFrameworkCoreTests(PostgresServerFixture fixture)
{
    public sealed class Blog
    {
        public int Id { get; set; }

        public string Name { get; set; } = "";
    }

    public sealed class BloggingContext(DbContextOptions<BloggingContext> options) : DbContext(options)
    {
        public DbSet<Blog> Blogs => Set<Blog>();
    }

    private async Task<string> CreateDatabaseAsync()
    {
        string database = "ef_" + Guid.NewGuid().ToString("N")[..12];
        await using var admin = await fixture.OpenConnectionAsync();
        await ScalarAsync(admin, $"CREATE DATABASE {database}");
        return database;
    }

    private async Task DropDatabaseAsync(string database)
    {
        await using var admin = await fixture.OpenConnectionAsync();
        await ScalarAsync(admin, $"DROP DATABASE IF EXISTS {database} WITH (FORCE)");
    }

    [Fact]
    public async Task EfCore_ThroughDi_EnsureCreatedQueriesSaveChangesAndTransaction_WithinMaxSize()
    {
        string app = AppName();
        string database = await CreateDatabaseAsync();
        try
        {
            var builder = new global::Npgsql.NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(app)) { Database = database };
            var services = new ServiceCollection();
            services.AddNpgsqlConnectionPool(o =>
            {
                o.ConnectionString = builder.ConnectionString;
                o.Pool.MaxSize = 3;
            });
            services.AddDbContext<BloggingContext>((sp, o) => o.UseNpgsql(sp.GetRequiredService<PoolKitDataSource>().CreateConnection(), contextOwnsConnection: true));
            await using ServiceProvider provider = services.BuildServiceProvider();

            using (IServiceScope scope = provider.CreateScope())
            {
                BloggingContext db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
                Assert.True(await db.Database.EnsureCreatedAsync());
                db.Blogs.Add(new Blog { Name = "first" });
                Assert.Equal(1, await db.SaveChangesAsync());
            }

            int maxSeen = 0;
            using var done = new CancellationTokenSource();
            Task sampler = Task.Run(async () =>
            {
                while (!done.IsCancellationRequested)
                {
                    maxSeen = Math.Max(maxSeen, await fixture.Server.CountBackendsAsync(app));
                    await Task.Delay(5);
                }
            });
            Task[] workers = Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
            {
                using IServiceScope scope = provider.CreateScope();
                BloggingContext db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
                await using (var tx = await db.Database.BeginTransactionAsync())
                {
                    db.Blogs.Add(new Blog { Name = $"w{i}" });
                    await db.SaveChangesAsync();
                    if (i % 2 == 0)
                    {
                        await tx.CommitAsync();
                    }
                    else
                    {
                        await tx.RollbackAsync();
                    }
                }

                Assert.True(await db.Blogs.AnyAsync(b => b.Name == "first"));
            })).ToArray();
            await Task.WhenAll(workers).WaitAsync(Limit);
            done.Cancel();
            await sampler.WaitAsync(Limit);

            using (IServiceScope scope = provider.CreateScope())
            {
                BloggingContext db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
                List<string> names = await db.Blogs.OrderBy(b => b.Id).Select(b => b.Name).ToListAsync();
                Assert.Equal(["first", "w0", "w10", "w2", "w4", "w6", "w8"], names.Order(StringComparer.Ordinal));
            }

            NpgsqlConnectionPool pool = provider.GetRequiredService<NpgsqlConnectionPool>();
            PoolStatistics stats = await QuietStatisticsAsync(pool);
            Assert.InRange(maxSeen, 1, 3);
            Assert.True(stats.TotalCreated <= 3, $"created {stats.TotalCreated}");
            Assert.Equal(0, stats.TotalDestroyed);
            Assert.Equal(0, pool.ClosedByCaller);
        }
        finally
        {
            await DropDatabaseAsync(database);
        }
    }

    [Fact]
    public async Task EfCore_UseNpgsqlWithTheDataSource_ContextPooling_WorksWithinMaxSize()
    {
        string app = AppName();
        string database = await CreateDatabaseAsync();
        try
        {
            var builder = new global::Npgsql.NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(app)) { Database = database };
            var services = new ServiceCollection();
            services.AddNpgsqlConnectionPool(o =>
            {
                o.ConnectionString = builder.ConnectionString;
                o.Pool.MaxSize = 2;
            });
            services.AddDbContextPool<BloggingContext>((sp, o) => o.UseNpgsql(sp.GetRequiredService<System.Data.Common.DbDataSource>()));
            await using ServiceProvider provider = services.BuildServiceProvider();

            using (IServiceScope scope = provider.CreateScope())
            {
                BloggingContext db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
                Assert.True(await db.Database.EnsureCreatedAsync());
            }

            Task[] workers = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
            {
                using IServiceScope scope = provider.CreateScope();
                BloggingContext db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
                db.Blogs.Add(new Blog { Name = $"p{i}" });
                await db.SaveChangesAsync();
                Assert.True(await db.Blogs.AnyAsync(b => b.Name == $"p{i}"));
            })).ToArray();
            await Task.WhenAll(workers).WaitAsync(Limit);

            using (IServiceScope scope = provider.CreateScope())
            {
                BloggingContext db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
                Assert.Equal(8, await db.Blogs.CountAsync());
            }

            NpgsqlConnectionPool pool = provider.GetRequiredService<NpgsqlConnectionPool>();
            PoolStatistics stats = await QuietStatisticsAsync(pool);
            Assert.True(stats.TotalCreated <= 2, $"created {stats.TotalCreated}");
            Assert.Equal(0, stats.TotalDestroyed);
            Assert.InRange(await fixture.Server.CountBackendsAsync(app), 1, 2);
        }
        finally
        {
            await DropDatabaseAsync(database);
        }
    }

    [Fact]
    public async Task EfCore_EnsureCreatedOfAMissingDatabase_IsNotSupported_EfCastsToNpgsqlConnection()
    {
        // To create a missing database EF's provider builds an admin connection by casting the context's connection
        // to NpgsqlConnection (NpgsqlRelationalConnection.CreateAdminConnection), which a PoolKit connection is not.
        // Create the database beforehand; EnsureCreated then creates the tables (see the test above).
        string app = AppName();
        string database = "ef_missing_" + Guid.NewGuid().ToString("N")[..8];
        var builder = new global::Npgsql.NpgsqlConnectionStringBuilder(fixture.Server.GetConnectionString(app)) { Database = database };
        var services = new ServiceCollection();
        services.AddNpgsqlConnectionPool(o => o.ConnectionString = builder.ConnectionString);
        services.AddDbContext<BloggingContext>((sp, o) => o.UseNpgsql(sp.GetRequiredService<System.Data.Common.DbDataSource>()));
        await using ServiceProvider provider = services.BuildServiceProvider();
        using IServiceScope scope = provider.CreateScope();
        BloggingContext db = scope.ServiceProvider.GetRequiredService<BloggingContext>();
        try
        {
            var error = await Assert.ThrowsAsync<InvalidCastException>(() => db.Database.EnsureCreatedAsync());
            Assert.Contains("CreateAdminConnection", error.StackTrace, StringComparison.Ordinal);
        }
        finally
        {
            await DropDatabaseAsync(database);
        }
    }
}
