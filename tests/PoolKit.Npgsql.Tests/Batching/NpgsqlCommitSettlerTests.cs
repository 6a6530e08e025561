using System.Data;
using Npgsql;
using PoolKit.Tests.Fixtures;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Batching;

/// <summary>The settling pieces one by one, against the shared server (no faults): the record, the question, the classification.</summary>
[Collection(PostgresServerCollectionDefinition.Name)]
public sealed class NpgsqlCommitSettlerTests(PostgresServerFixture fixture)
{
    [Fact]
    public void Classify_CommitSettledRolledBack_IsTransientAndTheConnectionIsBroken()
    {
        var lost = new NpgsqlException("Exception while reading from stream", new IOException("reset"));
        var rolledBack = new CommitRolledBackException("rolled back", lost);
        Assert.Equal(BatchErrorKind.Transient, NpgsqlTransactionHandler.Default.Classify(rolledBack, BatchPhase.Commit));
        Assert.True(NpgsqlTransactionHandler.Default.IsConnectionBroken(rolledBack));
        Assert.Equal(BatchErrorKind.OutcomeUnknown, NpgsqlTransactionHandler.Default.Classify(lost, BatchPhase.Commit));
    }

    [Fact]
    public void Constructor_CommitOutcomeTimeout_DefaultAndBounds()
    {
        Assert.Equal(TimeSpan.FromSeconds(15), NpgsqlTransactionHandler.Default.CommitOutcomeTimeout);
        Assert.Equal(TimeSpan.Zero, new NpgsqlTransactionHandler(IsolationLevel.Unspecified, TimeSpan.Zero).CommitOutcomeTimeout);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NpgsqlTransactionHandler(IsolationLevel.Unspecified, TimeSpan.FromSeconds(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NpgsqlTransactionHandler(IsolationLevel.Unspecified, TimeSpan.FromMinutes(11)));
    }

    [Fact]
    public async Task Settle_RecordedCommittedAndRolledBackTransactions_AnsweredByTheServer()
    {
        string table = "settler_" + Guid.NewGuid().ToString("N")[..8];
        await using NpgsqlConnection connection = await fixture.OpenConnectionAsync(AppName());
        await ScalarAsync(connection, $"CREATE TABLE {table} (id int)");

        // Committed: the record arrives with the commit, and the server says committed.
        CommitRecord committed = await CommitRecordingAsync(connection, $"INSERT INTO {table} VALUES (1)");
        Assert.NotNull(committed.TransactionId);
        Assert.Matches("^[0-9A-F]{8}$", committed.Timeline!);
        Assert.Equal(CommitOutcome.Committed, await NpgsqlCommitSettler.SettleAsync(connection, committed, TimeSpan.FromSeconds(5)));

        // Rolled back: a recorded transaction that ended with ROLLBACK.
        string? xid;
        await using (NpgsqlTransaction transaction = await connection.BeginTransactionAsync())
        {
            await ScalarAsync(connection, $"INSERT INTO {table} VALUES (2)");
            xid = (string?)await ScalarAsync(connection, "SELECT pg_current_xact_id()::text");
            await transaction.RollbackAsync();
        }

        Assert.Equal(CommitOutcome.RolledBack, await NpgsqlCommitSettler.SettleAsync(connection, committed with { TransactionId = xid }, TimeSpan.FromSeconds(5)));

        // The record assigns an id even to a transaction that wrote nothing (a NOTIFY gets its id only inside COMMIT),
        // so it can always be settled; a record without an id proves nothing and stays unknown.
        CommitRecord readOnly = await CommitRecordingAsync(connection, "SELECT 1");
        Assert.NotNull(readOnly.TransactionId);
        Assert.Equal(CommitOutcome.Committed, await NpgsqlCommitSettler.SettleAsync(connection, readOnly, TimeSpan.FromSeconds(5)));
        Assert.Equal(CommitOutcome.Unknown, await NpgsqlCommitSettler.SettleAsync(connection, readOnly with { TransactionId = null }, TimeSpan.FromSeconds(5)));

        // An id the server never handed out ("in the future"), or another timeline without the writes replayed: unknown.
        Assert.Equal(CommitOutcome.Unknown, await NpgsqlCommitSettler.SettleAsync(connection, committed with { TransactionId = "999999999999" }, TimeSpan.FromSeconds(5)));
        Assert.Equal(CommitOutcome.Unknown, await NpgsqlCommitSettler.SettleAsync(connection, committed with { Timeline = "000000FF", InsertLsn = "FF/0" }, TimeSpan.FromSeconds(5)));
        Assert.Equal(1L, await ScalarAsync(connection, $"SELECT count(*) FROM {table}"));
    }

    /// <summary>
    /// Issue 18: a transaction whose only effect is a NOTIFY had no id when the record was read
    /// (<c>pg_current_xact_id_if_assigned()</c>; NOTIFY gets its id inside COMMIT), and was settled "rolled back"
    /// although it committed — a retry would notify twice. The record now assigns the id, so it settles committed.
    /// </summary>
    [Fact]
    public async Task Settle_NotifyOnlyTransactionThatCommitted_SettledCommitted()
    {
        await using NpgsqlConnection connection = await fixture.OpenConnectionAsync(AppName());
        CommitRecord notified = await CommitRecordingAsync(connection, "NOTIFY poolkit_settler_test, 'once'");
        Assert.NotNull(notified.TransactionId);
        Assert.Equal(CommitOutcome.Committed, await NpgsqlCommitSettler.SettleAsync(connection, notified, TimeSpan.FromSeconds(5)));
    }

    private static async Task<CommitRecord> CommitRecordingAsync(NpgsqlConnection connection, string sql)
    {
        System.Runtime.CompilerServices.StrongBox<CommitRecord?> record = new();
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync();
        await ScalarAsync(connection, sql);
        await NpgsqlCommitSettler.CommitRecordingAsync(connection, transaction, record, CancellationToken.None);
        return Assert.IsType<CommitRecord>(record.Value);
    }
}
