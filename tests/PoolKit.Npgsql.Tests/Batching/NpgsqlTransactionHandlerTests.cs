using System.Data;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Batching;

[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlTransactionHandlerTests(PostgresServerFixture fixture)
{
    private static PostgresException Pg(string sqlState, string severity = "ERROR") => new("message", severity, severity, sqlState);

    [Theory]
    [InlineData("40001", BatchPhase.Execute, BatchErrorKind.Transient)]
    [InlineData("40001", BatchPhase.Commit, BatchErrorKind.Transient)]
    [InlineData("40P01", BatchPhase.Execute, BatchErrorKind.Transient)]
    [InlineData("57P01", BatchPhase.Begin, BatchErrorKind.Transient)]
    [InlineData("57P01", BatchPhase.Execute, BatchErrorKind.Transient)]
    [InlineData("57P01", BatchPhase.Commit, BatchErrorKind.OutcomeUnknown)]
    [InlineData("23514", BatchPhase.Execute, BatchErrorKind.Permanent)]
    [InlineData("23505", BatchPhase.Commit, BatchErrorKind.Permanent)]
    public void Classify_ServerErrors_MapPhaseOntoClassifier(string sqlState, BatchPhase phase, BatchErrorKind expected) =>
        Assert.Equal(expected, NpgsqlTransactionHandler.Default.Classify(Pg(sqlState), phase));

    [Fact]
    public void Classify_IoError_TransientBeforeCommitUnknownDuringCommit()
    {
        var io = new NpgsqlException("Exception while reading from stream", new IOException("reset"));
        NpgsqlTransactionHandler handler = NpgsqlTransactionHandler.Default;
        Assert.Equal(BatchErrorKind.Transient, handler.Classify(io, BatchPhase.Acquire));
        Assert.Equal(BatchErrorKind.Transient, handler.Classify(io, BatchPhase.Execute));
        Assert.Equal(BatchErrorKind.OutcomeUnknown, handler.Classify(io, BatchPhase.Commit));
        Assert.True(handler.IsConnectionBroken(io));
        Assert.False(handler.IsConnectionBroken(Pg("23514")));
    }

    [Fact]
    public void Constructor_Chaos_Throws() =>
        Assert.Throws<ArgumentException>(() => new NpgsqlTransactionHandler(IsolationLevel.Chaos));

    [Fact]
    public async Task BeginAsync_Serializable_TransactionRunsSerializable()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(fixture.Server, app, o => o.MaxSize = 2, NpgsqlResetMode.RollbackOnly);
        ParallelBatchRunner<NpgsqlConnection, NpgsqlTransaction> runner = pool.CreateBatchRunner(new NpgsqlTransactionHandler(IsolationLevel.Serializable));
        string? seen = null;
        BatchResult result = await runner.RunAsync(
            [1],
            async (unit, ct) => seen = (string?)await ScalarAsync(unit.Resource, "SHOW transaction_isolation", ct)).WaitAsync(Limit);

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("serializable", seen);
    }
}
