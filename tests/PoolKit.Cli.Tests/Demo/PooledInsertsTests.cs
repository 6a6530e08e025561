using Npgsql;
using PoolKit.Cli.Demo;
using PoolKit.Tests.Fixtures;

namespace PoolKit.Cli.Tests.Demo;

/// <summary>The pooled ways stopped mid-run: what the outcome calls committed is exactly what the table holds.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class PooledInsertsTests(PostgresServerFixture fixture)
{
    [Theory]
    [InlineData(1)]
    [InlineData(50)]
    public async Task RunAsync_CanceledMidRun_CommittedEqualsTableRows(int itemsPerTransaction)
    {
        const int Rows = 2_000_000;
        await using NpgsqlConnection admin = await fixture.OpenConnectionAsync("poolkit cli tests admin");
        ScratchTable table = await ScratchTable.CreateAsync(admin, CancellationToken.None);
        try
        {
            var strategy = new PooledInserts(DemoWay.PoolPerInsert, parallelism: 4, itemsPerTransaction);
            var progress = new InsertProgress();
            using var cancel = new CancellationTokenSource();
            Task<InsertOutcome> run = strategy.RunAsync(fixture.GetConnectionString("poolkit cli tests pooled"), table, Rows, progress, cancel.Token);
            while (progress.Committed < 500 && !run.IsCompleted)
            {
                await Task.Delay(10);
            }

            await cancel.CancelAsync();
            InsertOutcome outcome = await run.WaitAsync(CliHarness.Limit);

            Assert.True(outcome.Canceled);
            Assert.Null(outcome.Error);
            Assert.Equal(0, outcome.Unknown);
            Assert.InRange(outcome.Committed, 500, Rows - 1);
            (long rows, long distinct) = await table.CountAsync(CancellationToken.None);
            Assert.Equal(outcome.Committed, rows);
            Assert.Equal(rows, distinct);
            Assert.InRange(outcome.ConnectionsOpened, 1, 4);
        }
        finally
        {
            await table.DropAsync();
        }
    }
}
