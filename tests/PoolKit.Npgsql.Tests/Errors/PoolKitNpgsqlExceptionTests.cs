using System.Net.Sockets;
using Npgsql;

namespace PoolKit.Npgsql.Tests.Errors;

/// <summary>How the pool's own failures are translated, and what IsTransient says about each.</summary>
public sealed class PoolKitNpgsqlExceptionTests
{
    private static PostgresException Pg(string sqlState) => new("message", "FATAL", "FATAL", sqlState);

    private static PoolExhaustedException Exhausted(PoolExhaustedReason reason, int live, int maxSize, Exception? last) =>
        new("p", reason, TimeSpan.FromSeconds(1), new PoolStatistics { Leased = live, MaxSize = maxSize }, [], last, TimeSpan.FromSeconds(1), null);

    public static TheoryData<string, bool> Cases => new()
    {
        { "full pool", false },
        { "full pool after an outage", false },
        { "wait queue full", false },
        { "not full, refused", true },
        { "not full, 53300", true },
        { "not full, bad password", false },
        { "not full, no error", false },
        { "creation refused", true },
        { "creation 57P03", true },
        { "creation timed out", true },
        { "creation bad password", false },
        { "creation missing database", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Translate_IsTransientExactlyWhenARetryCanSucceedWithoutAnOperator(string scenario, bool transient)
    {
        var refused = new NpgsqlException("Failed to connect", new SocketException(111));
        Exception error = scenario switch
        {
            "full pool" => Exhausted(PoolExhaustedReason.Timeout, 4, 4, null),
            "full pool after an outage" => Exhausted(PoolExhaustedReason.Timeout, 4, 4, refused),
            "wait queue full" => Exhausted(PoolExhaustedReason.WaitQueueFull, 1, 4, refused),
            "not full, refused" => Exhausted(PoolExhaustedReason.Timeout, 1, 4, refused),
            "not full, 53300" => Exhausted(PoolExhaustedReason.Timeout, 1, 4, Pg(PostgresErrorCodes.TooManyConnections)),
            "not full, bad password" => Exhausted(PoolExhaustedReason.Timeout, 0, 4, Pg(PostgresErrorCodes.InvalidPassword)),
            "not full, no error" => Exhausted(PoolExhaustedReason.Timeout, 1, 4, null),
            "creation refused" => new ResourceCreationException("p", "m", refused),
            "creation 57P03" => new ResourceCreationException("p", "m", Pg(PostgresErrorCodes.CannotConnectNow)),
            "creation timed out" => new ResourceCreationException("p", "m", null),
            "creation bad password" => new ResourceCreationException("p", "m", Pg(PostgresErrorCodes.InvalidPassword)),
            "creation missing database" => new ResourceCreationException("p", "m", Pg(PostgresErrorCodes.InvalidCatalogName)),
            _ => throw new ArgumentOutOfRangeException(nameof(scenario)),
        };

        var translated = Assert.IsType<PoolKitNpgsqlException>(PoolKitNpgsqlException.Translate("p", error));
        Assert.Same(error, translated.InnerException);
        Assert.Equal(transient, translated.IsTransient);
        Assert.Equal(transient ? NpgsqlErrorClass.Transient : NpgsqlErrorClass.NotTransient, NpgsqlErrorClassifier.Classify(translated, NpgsqlOperationPhase.BeforeCommand));
        Assert.Equal(error is PoolExhaustedException, translated.IsPoolExhausted);
    }

    [Fact]
    public void Translate_OtherErrors_PassThroughUnchanged()
    {
        var npgsql = new NpgsqlException("Failed to connect", new SocketException(111));
        var canceled = new OperationCanceledException();
        Assert.Same(npgsql, PoolKitNpgsqlException.Translate("p", npgsql));
        Assert.Same(canceled, PoolKitNpgsqlException.Translate("p", canceled));
    }

    [Fact]
    public void SqlState_IsTheServersBehindTheFailure()
    {
        var ex = new PoolKitNpgsqlException("p", new ResourceCreationException("p", "m", Pg(PostgresErrorCodes.TooManyConnections)), isTransient: true);
        Assert.Equal(PostgresErrorCodes.TooManyConnections, ex.SqlState);
        Assert.Equal("p", ex.PoolName);
        Assert.Null(new PoolKitNpgsqlException("p", new ResourceCreationException("p", "m", null), isTransient: true).SqlState);
    }
}
