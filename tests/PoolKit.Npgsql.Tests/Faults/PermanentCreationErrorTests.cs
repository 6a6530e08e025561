using System.Data.Common;
using System.Diagnostics;
using Npgsql;
using PoolKit.Testing;
using PoolKit.Tests.Fixtures;
using Xunit.Abstractions;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Faults;

/// <summary>
/// A creation error that retrying cannot fix (a wrong password, a database that does not exist) fails callers at once
/// instead of making them wait through the creation back-off; measured side by side with plain Npgsql.
/// </summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PermanentCreationErrorTests(PostgresServerFixture fixture, ITestOutputHelper output)
{
    private const int Requests = 10;

    private PostgresTestServer Server => fixture.Server;

    [Fact]
    public async Task WrongPassword_EveryRequestFailsFastWithOneStableMessage_SideBySideWithNpgsql()
    {
        string app = AppName();
        var builder = new NpgsqlConnectionStringBuilder(Server.GetConnectionString(app)) { Password = "certainly-not-the-password" };
        string wrong = builder.ConnectionString;

        // Plain Npgsql, pooled as applications use it.
        var npgsqlBuilder = new NpgsqlConnectionStringBuilder(wrong) { Pooling = true };
        await using (NpgsqlDataSource npgsql = NpgsqlDataSource.Create(npgsqlBuilder.ConnectionString))
        {
            TimeSpan[] plain = await MeasureAsync(async () => { await using NpgsqlConnection c = await npgsql.OpenConnectionAsync(); });
            output.WriteLine($"Npgsql:  {Describe(plain)}");
        }

        // PoolKit with its default back-off (100 ms initial, 2 s max).
        await using var pool = NpgsqlConnectionPool.Create(wrong, new ConnectionPoolOptions { Name = app, AcquireTimeout = TimeSpan.FromSeconds(10) });
        var errors = new List<Exception>();
        TimeSpan[] poolKit = await MeasureAsync(async () =>
        {
            try
            {
                using PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync();
            }
            catch (Exception ex) when (ex is NpgsqlException)
            {
                errors.Add(ex);
                throw;
            }
        });
        output.WriteLine($"PoolKit: {Describe(poolKit)}");

        Assert.All(poolKit, t => Assert.True(t < TimeSpan.FromSeconds(0.4), $"a request took {t.TotalMilliseconds:0} ms"));
        Assert.All(errors, ex =>
        {
            Assert.Equal(PostgresErrorCodes.InvalidPassword, Assert.IsAssignableFrom<NpgsqlException>(ex).SqlState);
            Assert.False(((NpgsqlException)ex).IsTransient, ex.ToString());
            Assert.DoesNotContain("certainly-not-the-password", ex.ToString(), StringComparison.Ordinal);
        });

        // Every fast failure carries one stable message (log grouping).
        Assert.Single(errors.Where(e => e is PoolKitNpgsqlException).Select(e => e.Message).Distinct());
        Assert.True(pool.GetStatistics().TotalCreationFailures < Requests, "not every request made an attempt");
    }

    private static async Task<TimeSpan[]> MeasureAsync(Func<Task> request)
    {
        var times = new TimeSpan[Requests];
        for (int i = 0; i < Requests; i++)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                await request().WaitAsync(Limit);
                Assert.Fail("opened a connection with a wrong password");
            }
            catch (DbException)
            {
            }

            times[i] = clock.Elapsed;
        }

        return times;
    }

    private static string Describe(TimeSpan[] times)
    {
        double[] ms = times.Select(t => t.TotalMilliseconds).Order().ToArray();
        return $"median {ms[ms.Length / 2]:0.0} ms, max {ms[^1]:0.0} ms ({string.Join(", ", times.Select(t => t.TotalMilliseconds.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))})";
    }
}
