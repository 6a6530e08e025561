using Npgsql;
using PoolKit.Testing;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Faults;

public sealed class TooManyConnectionsTests
{
    [Fact]
    public async Task Acquire_MaxConnectionsExhaustedByOthers_FailsWith53300_ThenRecovers()
    {
        await using PostgresTestServer server = await PostgresTestServer.StartAsync(LocalOnly(maxConnections: 5)).WaitAsync(TimeSpan.FromSeconds(60));
        var hogs = new List<NpgsqlConnection>();
        try
        {
            for (int i = 0; i < 10; i++)
            {
                var hog = new NpgsqlConnection(server.GetConnectionString("hog"));
                try
                {
                    await hog.OpenAsync().WaitAsync(Limit);
                    hogs.Add(hog);
                }
                catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.TooManyConnections)
                {
                    await hog.DisposeAsync();
                    break;
                }
            }

            string app = AppName();
            await using NpgsqlConnectionPool pool = CreatePool(server, app, o => { o.MaxSize = 2; o.CreationBackoffMax = TimeSpan.FromMilliseconds(300); });
            Exception ex1 = await Assert.ThrowsAnyAsync<Exception>(() => UseOnceAsync(pool).WaitAsync(Limit));
            var pg = Assert.IsType<PostgresException>(RealError(ex1));
            Assert.Equal(PostgresErrorCodes.TooManyConnections, pg.SqlState);
            Assert.Equal(NpgsqlErrorClass.Transient, NpgsqlErrorClassifier.Classify(ex1, NpgsqlOperationPhase.BeforeCommand));

            foreach (NpgsqlConnection hog in hogs)
            {
                await hog.DisposeAsync();
            }

            hogs.Clear();
            await WaitUntilAsync(
                async () => { try { await UseOnceAsync(pool); return true; } catch (Exception ex) when (ex is NpgsqlException or ResourceCreationException) { return false; } },
                TimeSpan.FromSeconds(10),
                "the pool connects once the others left");
            Assert.Equal(0, (await QuietStatisticsAsync(pool)).Leased);
        }
        finally
        {
            foreach (NpgsqlConnection hog in hogs)
            {
                await hog.DisposeAsync();
            }
        }
    }
}
