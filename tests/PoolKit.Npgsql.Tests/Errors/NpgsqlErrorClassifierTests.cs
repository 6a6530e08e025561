using System.Net.Sockets;
using Npgsql;

namespace PoolKit.Npgsql.Tests.Errors;

public sealed class NpgsqlErrorClassifierTests
{
    private static PostgresException Pg(string sqlState, string severity = "ERROR") => new("message", severity, severity, sqlState);

    [Theory]
    [InlineData("40001", NpgsqlOperationPhase.InTransaction, NpgsqlErrorClass.Transient)]
    [InlineData("40001", NpgsqlOperationPhase.Commit, NpgsqlErrorClass.Transient)]
    [InlineData("40P01", NpgsqlOperationPhase.InTransaction, NpgsqlErrorClass.Transient)]
    [InlineData("55P03", NpgsqlOperationPhase.InTransaction, NpgsqlErrorClass.Transient)]
    [InlineData("25006", NpgsqlOperationPhase.InTransaction, NpgsqlErrorClass.Transient)]
    [InlineData("25006", NpgsqlOperationPhase.Commit, NpgsqlErrorClass.Transient)]
    [InlineData("57P01", NpgsqlOperationPhase.BeforeCommand, NpgsqlErrorClass.Transient)]
    [InlineData("57P01", NpgsqlOperationPhase.Commit, NpgsqlErrorClass.OutcomeUnknown)]
    [InlineData("08006", NpgsqlOperationPhase.InTransaction, NpgsqlErrorClass.Transient)]
    [InlineData("53300", NpgsqlOperationPhase.BeforeCommand, NpgsqlErrorClass.Transient)]
    [InlineData("23505", NpgsqlOperationPhase.InTransaction, NpgsqlErrorClass.NotTransient)]
    [InlineData("42601", NpgsqlOperationPhase.BeforeCommand, NpgsqlErrorClass.NotTransient)]
    [InlineData("28P01", NpgsqlOperationPhase.BeforeCommand, NpgsqlErrorClass.NotTransient)]
    [InlineData("57014", NpgsqlOperationPhase.InTransaction, NpgsqlErrorClass.NotTransient)]
    public void Classify_ServerErrors(string sqlState, NpgsqlOperationPhase phase, NpgsqlErrorClass expected) =>
        Assert.Equal(expected, NpgsqlErrorClassifier.Classify(Pg(sqlState), phase));

    [Fact]
    public void Classify_IoErrorDuringCommit_IsOutcomeUnknown()
    {
        var io = new NpgsqlException("Exception while reading from stream", new IOException("reset"));
        Assert.Equal(NpgsqlErrorClass.OutcomeUnknown, NpgsqlErrorClassifier.Classify(io, NpgsqlOperationPhase.Commit));
        Assert.Equal(NpgsqlErrorClass.Transient, NpgsqlErrorClassifier.Classify(io, NpgsqlOperationPhase.InTransaction));
        Assert.True(NpgsqlErrorClassifier.IsConnectionBroken(io));
    }

    [Fact]
    public void Classify_PoolExhausted_IsNotTransient()
    {
        var ex = new PoolExhaustedException("p", PoolExhaustedReason.Timeout, TimeSpan.FromSeconds(1), default, [], null, TimeSpan.FromSeconds(1), null);
        Assert.Equal(NpgsqlErrorClass.NotTransient, NpgsqlErrorClassifier.Classify(ex, NpgsqlOperationPhase.BeforeCommand));
        Assert.False(NpgsqlErrorClassifier.IsTransient(ex));
    }

    [Fact]
    public void Classify_ResourceCreation_TransientUnlessInnerIsPermanent()
    {
        var refused = new ResourceCreationException("p", "m", new NpgsqlException("Failed to connect", new SocketException(111)));
        var badPassword = new ResourceCreationException("p", "m", Pg("28P01", "FATAL"));
        var timedOut = new ResourceCreationException("p", "m", new OperationCanceledException());
        Assert.Equal(NpgsqlErrorClass.Transient, NpgsqlErrorClassifier.Classify(refused, NpgsqlOperationPhase.Commit));
        Assert.Equal(NpgsqlErrorClass.NotTransient, NpgsqlErrorClassifier.Classify(badPassword, NpgsqlOperationPhase.BeforeCommand));
        Assert.Equal(NpgsqlErrorClass.Transient, NpgsqlErrorClassifier.Classify(timedOut, NpgsqlOperationPhase.BeforeCommand));
    }

    [Fact]
    public void IsConnectionBroken_FatalAndShutdownButNotOrdinaryErrors()
    {
        Assert.True(NpgsqlErrorClassifier.IsConnectionBroken(Pg("57P01", "FATAL")));
        Assert.True(NpgsqlErrorClassifier.IsConnectionBroken(Pg("08P01")));
        Assert.True(NpgsqlErrorClassifier.IsConnectionBroken(Pg("25006")), "a write refused by a read-only server: the connection leads to a standby");
        Assert.False(NpgsqlErrorClassifier.IsConnectionBroken(Pg("40001")));
        Assert.False(NpgsqlErrorClassifier.IsConnectionBroken(Pg("22012")));
        Assert.False(NpgsqlErrorClassifier.IsConnectionBroken(new OperationCanceledException()));
    }
}
