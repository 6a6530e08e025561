using Microsoft.Extensions.Time.Testing;

namespace PoolKit.Tests.Fakes;

/// <summary>Builds pools over a <see cref="FakePolicy"/> and a <see cref="FakeTimeProvider"/>.</summary>
public static class PoolFactory
{
    public static ConnectionPool<FakeResource> Create(
        out FakePolicy policy,
        out FakeTimeProvider time,
        Action<ConnectionPoolOptions>? configure = null)
    {
        policy = new FakePolicy();
        time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // DisposeTimeout 0: with a fake clock, waiting for outstanding leases would never time out.
        var options = new ConnectionPoolOptions { Name = "test", MaxSize = 4, DisposeTimeout = TimeSpan.Zero };
        configure?.Invoke(options);
        return new ConnectionPool<FakeResource>(policy, options, timeProvider: time);
    }
}
