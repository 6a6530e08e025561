using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using PoolKit.Testing;
using static PoolKit.Npgsql.Tests.TestSupport;

namespace PoolKit.Npgsql.Tests.Faults;

/// <summary>Stops, restarts and freezes a server of its own; every test restores it in <c>finally</c>.</summary>
public sealed class ServerFaultTests(DedicatedServerFixture fixture) : IClassFixture<DedicatedServerFixture>
{
    private PostgresTestServer Server => fixture.Server;

    private static void FastRecovery(ConnectionPoolOptions o)
    {
        o.MaxSize = 4;
        o.AcquireTimeout = TimeSpan.FromSeconds(5);
        o.CreationBackoffInitial = TimeSpan.FromMilliseconds(50);
        o.CreationBackoffMax = TimeSpan.FromMilliseconds(300);
        o.ValidationTimeout = TimeSpan.FromSeconds(1);
    }

    private static void AssertRealError(Exception ex)
    {
        Exception real = RealError(ex);
        Assert.True(real is NpgsqlException, $"Expected a real Npgsql error, got {ex}");
    }

    [Fact]
    public async Task Restart_MidLoad_ErrorsAreRealAndPoolServesAgainWithoutLeakedLeases()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(Server, app, FastRecovery);
        var errors = new ConcurrentQueue<Exception>();
        long successesAfterRestart = 0;
        bool restarted = false;
        using var stop = new CancellationTokenSource();
        Task[] workers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await UseOnceAsync(pool);
                    if (Volatile.Read(ref restarted))
                    {
                        Interlocked.Increment(ref successesAfterRestart);
                    }
                }
                catch (Exception ex)
                {
                    errors.Enqueue(ex);
                    await Task.Delay(20);
                }
            }
        })).ToArray();

        try
        {
            await WaitUntilAsync(() => Task.FromResult(pool.GetStatistics().TotalCreated >= 4), TimeSpan.FromSeconds(10), "the load runs");
            await Server.RestartAsync().WaitAsync(Limit);
            var sinceBack = Stopwatch.StartNew();
            Volatile.Write(ref restarted, true);
            await WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref successesAfterRestart) >= 20), TimeSpan.FromSeconds(10), "the pool serves again");
            Assert.True(sinceBack.Elapsed < TimeSpan.FromSeconds(10));
        }
        finally
        {
            stop.Cancel();
            await Task.WhenAll(workers).WaitAsync(Limit);
            await Server.StartAgainAsync().WaitAsync(Limit);
        }

        Assert.NotEmpty(errors);
        Assert.All(errors, AssertRealError);
        Assert.Equal(0, (await QuietStatisticsAsync(pool)).Leased);
        await UseOnceAsync(pool).WaitAsync(Limit);
    }

    [Fact]
    public async Task ServerDownAtStart_AcquireFailsFastWithRealError_ThenRecovers()
    {
        string app = AppName();
        try
        {
            await Server.StopAsync().WaitAsync(Limit);
            await using NpgsqlConnectionPool pool = CreatePool(Server, app, FastRecovery);
            var clock = Stopwatch.StartNew();
            Exception first = await Assert.ThrowsAnyAsync<Exception>(() => UseOnceAsync(pool).WaitAsync(Limit));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
            AssertRealError(first);
            Assert.Equal(NpgsqlErrorClass.Transient, NpgsqlErrorClassifier.Classify(first, NpgsqlOperationPhase.BeforeCommand));

            Exception second = await Assert.ThrowsAnyAsync<Exception>(() => UseOnceAsync(pool).WaitAsync(Limit));
            AssertRealError(second);

            await Server.StartAgainAsync().WaitAsync(Limit);
            await WaitUntilAsync(
                async () => { try { await UseOnceAsync(pool); return true; } catch (Exception ex) when (ex is NpgsqlException or ResourceCreationException) { return false; } },
                TimeSpan.FromSeconds(10),
                "the pool connects");
            Assert.Equal(0, (await QuietStatisticsAsync(pool)).Leased);
        }
        finally
        {
            await Server.StartAgainAsync().WaitAsync(Limit);
        }
    }

    [Fact]
    public async Task Frozen_AcquiresTimeOutWithinAcquireTimeout_ThenRecoverAfterThaw()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(Server, app, o =>
        {
            FastRecovery(o);
            o.MaxSize = 2;
            o.AcquireTimeout = TimeSpan.FromSeconds(1);
            o.ValidationBypassWindow = TimeSpan.Zero;
        });
        await UseOnceAsync(pool).WaitAsync(Limit);
        try
        {
            await Server.FreezeAsync().WaitAsync(Limit);
            Task[] acquirers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                var clock = Stopwatch.StartNew();
                Exception ex = await Assert.ThrowsAnyAsync<Exception>(() => UseOnceAsync(pool).WaitAsync(Limit));
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"acquire took {clock.Elapsed}: {ex}");
                Assert.True(ex is PoolKitNpgsqlException, ex.ToString());
            })).ToArray();
            await Task.WhenAll(acquirers).WaitAsync(Limit);
        }
        finally
        {
            await Server.ThawAsync().WaitAsync(Limit);
        }

        await WaitUntilAsync(
            async () => { try { await UseOnceAsync(pool); return true; } catch (Exception ex) when (ex is NpgsqlException or ResourceCreationException or PoolExhaustedException) { return false; } },
            TimeSpan.FromSeconds(10),
            "the pool serves after the thaw");
        await WaitUntilAsync(() => Task.FromResult(pool.GetStatistics() is { Leased: 0, Destroying: 0, Creating: 0 }), TimeSpan.FromSeconds(10), "the pool is quiet");
    }
    [Fact]
    public async Task Frozen_DuringRollback_RunnerAbandonsRollbackAfterRollbackTimeoutAndDestroysTheConnection()
    {
        string app = AppName();
        await using NpgsqlConnectionPool pool = CreatePool(Server, app, FastRecovery);
        var runner = pool.CreateBatchRunner(new BatchRunnerOptions { MaxDegreeOfParallelism = 1, RollbackTimeout = TimeSpan.FromSeconds(1) });
        bool frozen = false;
        var clock = new Stopwatch();
        BatchResult result;
        try
        {
            result = await runner.RunAsync(
                [1],
                async (unit, ct) =>
                {
                    await using (var command = new NpgsqlCommand("SELECT 1", unit.Resource, unit.Transaction))
                    {
                        await command.ExecuteScalarAsync(ct);
                    }

                    // The server freezes after the work and before the rollback the application's error causes.
                    await Server.FreezeAsync(ct);
                    Volatile.Write(ref frozen, true);
                    clock.Start();
                    throw new InvalidOperationException("the application rejects the unit");
                }).WaitAsync(Limit);
            clock.Stop();
        }
        finally
        {
            await Server.ThawAsync().WaitAsync(Limit);
        }

        Assert.True(frozen);
        Assert.Equal(1, result.Failed);
        Assert.IsType<InvalidOperationException>(Assert.Single(result.Failures).Exception);

        // The rollback timeout (1 s) plus Npgsql's own cancellation grace; without the timeout it waits for the thaw.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"the batch ended {clock.Elapsed} after the freeze");
        Assert.Equal(1, (await QuietStatisticsAsync(pool)).TotalDestroyed);
    }
}
