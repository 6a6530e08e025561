using System.Net.Sockets;
using Npgsql;

namespace PoolKit.Npgsql.Tests.Errors;

/// <summary>How the pool's own failures are translated, and what IsTransient says about each.</summary>
public sealed class PoolKitNpgsqlExceptionTests
{
    private static PostgresException Pg(string sqlState) => new("message", "FATAL", "FATAL", sqlState);

    private static PoolExhaustedException Exhausted(PoolExhaustedReason reason, int live, int maxSize, Exception? last, int creating = 0, double waitedSeconds = 1) =>
        new("p", reason, TimeSpan.FromSeconds(waitedSeconds), new PoolStatistics { Leased = live, Creating = creating, MaxSize = maxSize }, [], last, TimeSpan.FromSeconds(1), null);

    public static TheoryData<string, bool> Cases => new()
    {
        { "full pool", false },
        { "full pool after an outage", false },
        { "wait queue full", false },
        { "not full, refused", true },
        { "not full, 53300", true },
        { "not full, bad password", false },
        { "not full, no error", false },
        { "not full but creations in flight, refused", true },
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
            "not full but creations in flight, refused" => Exhausted(PoolExhaustedReason.Timeout, 1, 4, refused, creating: 3),
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

    [Fact]
    public void Message_OneConditionOneText_WhateverTheCountsAndDelays()
    {
        var refused = new NpgsqlException("Failed to connect", new SocketException(111));
        var noHost = new NpgsqlException(ConnectErrors.NoSuitableHost);

        // An outage, as callers meet it: timeouts with different counts and waits, fail-fast creations with different texts.
        Exception[] outage =
        [
            Exhausted(PoolExhaustedReason.Timeout, 0, 10, refused, creating: 2, waitedSeconds: 0.808),
            Exhausted(PoolExhaustedReason.Timeout, 3, 10, refused, creating: 7, waitedSeconds: 1.5),
            Exhausted(PoolExhaustedReason.Timeout, 1, 10, Pg(PostgresErrorCodes.CannotConnectNow), waitedSeconds: 3),
            new ResourceCreationException("p", "could not create one: 3 failures in a row; the next attempt in 180 ms", refused),
            new ResourceCreationException("p", "could not create one: 4 failures in a row; the next attempt in 360 ms", refused),
            new ResourceCreationException("p", "the creation was still running after 2014 ms", new OperationCanceledException()),
            new ResourceCreationException("p", "m", noHost),
            noHost,
            new NpgsqlException("Unable to connect to a suitable host. Check inner exception for more details.", new AggregateException(refused, refused)),
        ];
        string[] messages = outage.Select(e => Assert.IsType<PoolKitNpgsqlException>(PoolKitNpgsqlException.Translate("p", e)).Message).Distinct().ToArray();
        string message = Assert.Single(messages);
        Assert.DoesNotMatch("[0-9]", message);

        // Capacity: full pools with different counts and waits.
        string[] full = new[] { (4, 0.5), (4, 3.0), (16, 15.0) }
            .Select(c => PoolKitNpgsqlException.Translate("p", Exhausted(PoolExhaustedReason.Timeout, c.Item1, c.Item1, null, waitedSeconds: c.Item2)).Message)
            .Distinct().ToArray();
        Assert.DoesNotMatch("[0-9]", Assert.Single(full));
        Assert.NotEqual(message, full[0]);
    }

    [Fact]
    public void Translate_NoSuitableHost_RawOrWrapped_SameTypeMessageAndIsTransient()
    {
        var noHost = new NpgsqlException(ConnectErrors.NoSuitableHost);
        Assert.False(noHost.IsTransient); // Npgsql's own answer, which a retry policy would take as final

        var raw = Assert.IsType<PoolKitNpgsqlException>(PoolKitNpgsqlException.Translate("p", noHost));
        var wrapped = Assert.IsType<PoolKitNpgsqlException>(PoolKitNpgsqlException.Translate("p", new ResourceCreationException("p", "m", noHost)));
        Assert.True(raw.IsTransient);
        Assert.True(wrapped.IsTransient);
        Assert.Equal(wrapped.Message, raw.Message);
        Assert.True(PoolKitNpgsqlException.IsTranslated(noHost));
    }
}
