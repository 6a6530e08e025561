using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Diagnostics;

public sealed class LogMessagesTests
{
    [Fact]
    public async Task Logs_EveryLineCarriesThePoolName()
    {
        var collector = new FakeLogCollector();
        using var loggerFactory = new LoggerFactory([new FakeLoggerProvider(collector)]);
        var policy = new FakePolicy();
        var time = new FakeTimeProvider();
        var pool = new ConnectionPool<FakeResource>(policy, new ConnectionPoolOptions { Name = "billing", MaxSize = 1, AcquireTimeout = TimeSpan.FromSeconds(1) }, loggerFactory, timeProvider: time);

        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        Task<PoolLease<FakeResource>> waiting = pool.AcquireAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<PoolExhaustedException>(() => waiting);
        lease.MarkBroken();
        lease.Dispose();
        policy.FailCreate = _ => new IOException("refused");
        await Assert.ThrowsAsync<IOException>(() => pool.AcquireAsync().AsTask());
        await pool.DisposeAsync();

        IReadOnlyList<FakeLogRecord> records = collector.GetSnapshot();
        Assert.Contains(records, r => r.Id.Id == PoolEventIds.PoolExhausted && r.Level == LogLevel.Warning);
        Assert.Contains(records, r => r.Id.Id == PoolEventIds.CreationFailed && r.Exception is IOException);
        Assert.Contains(records, r => r.Id.Id == PoolEventIds.ResourceDestroyed);
        Assert.Contains(records, r => r.Id.Id == PoolEventIds.PoolDisposed);
        Assert.All(records, r => Assert.Contains("'billing'", r.Message, StringComparison.Ordinal));
    }
}
