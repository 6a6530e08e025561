// What a new user does with the packages, end to end: the shipped xUnit fixture starts a server (container discovery
// included: PoolKit.Testing.Containers is referenced), a throwaway database, a pool from dependency injection, one
// query through it. Then the packages themselves are checked: a README of their own, no relative links in it.
using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PoolKit;
using PoolKit.Npgsql;
using PoolKit.Testing;
using PoolKit.Testing.Xunit;

if (args.Length != 1 || !Directory.Exists(args[0]))
{
    Console.Error.WriteLine("usage: PackageConsumer.Net10 <directory of the packed .nupkg files>");
    return 2;
}

List<string> problems = [];

PostgresServerFixture fixture = new();
await fixture.InitializeAsync();
try
{
    await using TestDatabase database = await fixture.CreateDatabaseAsync();
    ServiceCollection services = new();
    services.AddNpgsqlConnectionPool("consumer", options =>
    {
        options.ConnectionString = database.GetConnectionString("package-consumer");
        options.Pool.MaxSize = 2;
    });
    await using (ServiceProvider provider = services.BuildServiceProvider())
    {
        NpgsqlConnectionPool pool = provider.GetRequiredKeyedService<NpgsqlConnectionPool>("consumer");
        await using (PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync())
        {
            await using NpgsqlCommand command = new("SELECT current_database()", lease.Resource);
            object? name = await command.ExecuteScalarAsync();
            if (!Equals(name, database.Name))
            {
                problems.Add($"the pooled connection is in database {name}, not {database.Name}");
            }
        }

        int sessions = await fixture.Server.CountBackendsAsync("package-consumer");
        if (sessions is < 1 or > 2)
        {
            problems.Add($"{sessions} server sessions for a pool of MaxSize 2 that served one lease");
        }
    }

    Console.WriteLine($"package consumer: queried {database} through the pool");
}
finally
{
    await fixture.DisposeAsync();
}

// Every package carries a README of its own (not the repository's), without relative links (they do not render on a
// package page).
Regex link = new(@"\]\((?<target>[^)\s]+)");
foreach (string package in Directory.GetFiles(args[0], "*.nupkg"))
{
    string file = Path.GetFileName(package);
    using ZipArchive zip = ZipFile.OpenRead(package);
    ZipArchiveEntry? readme = zip.GetEntry("README.md");
    if (readme is null)
    {
        problems.Add($"{file}: no README.md");
        continue;
    }

    using StreamReader reader = new(readme.Open());
    string text = reader.ReadToEnd();
    string id = Regex.Match(file, @"^(.*?)\.\d+\.\d+\.\d+").Groups[1].Value;
    if (!text.StartsWith("# " + id, StringComparison.Ordinal))
    {
        problems.Add($"{file}: the README does not start with '# {id}'");
    }

    if (!text.Contains("dotnet add package " + id, StringComparison.Ordinal) && !text.Contains("dotnet tool install", StringComparison.Ordinal))
    {
        problems.Add($"{file}: the README has no install command");
    }

    foreach (Match m in link.Matches(text))
    {
        string target = m.Groups["target"].Value;
        if (!target.StartsWith("https://", StringComparison.Ordinal) && !target.StartsWith("http://", StringComparison.Ordinal))
        {
            problems.Add($"{file}: relative link '{target}' in the README");
        }
    }
}

foreach (string problem in problems)
{
    Console.Error.WriteLine("package consumer: " + problem);
}

Console.WriteLine(problems.Count == 0 ? "package consumer: ok" : $"package consumer: {problems.Count} problem(s)");
return problems.Count == 0 ? 0 : 1;
