using Npgsql;

namespace PoolKit.Npgsql.Tests.Errors;

/// <summary>
/// During a failover (no host of the targeted role reachable), every caller gets the same answer: one type, one
/// message, one <see cref="NpgsqlException.IsTransient"/> (issue 18, item 7). Closed ports stand in for the hosts.
/// </summary>
public sealed class FailoverErrorTests
{
    [Fact]
    public async Task NoSuitableHost_EveryCallerSameTypeMessageAndIsTransient()
    {
        await using var pool = NpgsqlConnectionPool.Create(
            "Host=127.0.0.1:1,127.0.0.1:2;Username=nobody;Password=unused;Target Session Attributes=primary;Timeout=2;Host Recheck Seconds=30",
            new ConnectionPoolOptions
            {
                Name = "failover-errors",
                MaxSize = 4,
                AcquireTimeout = TimeSpan.FromSeconds(2),
                CreationBackoffInitial = TimeSpan.FromMilliseconds(20),
                CreationBackoffMax = TimeSpan.FromMilliseconds(100),
            });

        var errors = new List<Exception>();
        for (int round = 0; round < 3; round++)
        {
            Task[] callers = Enumerable.Range(0, 4).Select(_ => pool.AcquireAsync().AsTask()).ToArray<Task>();
            foreach (Task caller in callers)
            {
                errors.Add(await Assert.ThrowsAnyAsync<Exception>(() => caller.WaitAsync(TestSupport.Limit)));
            }
        }

        // Npgsql raises "Unable to connect to a suitable host" first, then "No suitable host was found." while it
        // keeps the hosts marked offline; callers whose own open failed used to get those raw (IsTransient false).
        Assert.All(errors, e => Assert.IsType<PoolKitNpgsqlException>(e));
        Assert.All(errors, e => Assert.True(((NpgsqlException)e).IsTransient, e.ToString()));
        Assert.Single(errors.Select(e => e.Message).Distinct());
        Assert.Contains(errors, e => e.InnerException is NpgsqlException);
    }

    [Fact]
    public async Task Outage_ManyCallers_PoolErrorsHaveOneMessage_AndEveryCallerIsTransient()
    {
        await using var pool = NpgsqlConnectionPool.Create(
            "Host=127.0.0.1;Port=1;Username=nobody;Password=unused;Timeout=2",
            new ConnectionPoolOptions
            {
                Name = "outage-errors",
                MaxSize = 4,
                AcquireTimeout = TimeSpan.FromMilliseconds(500),
                CreationBackoffInitial = TimeSpan.FromMilliseconds(20),
                CreationBackoffMax = TimeSpan.FromMilliseconds(200),
            });

        var errors = new List<Exception>();
        for (int round = 0; round < 4; round++)
        {
            Task[] callers = Enumerable.Range(0, 6).Select(_ => pool.AcquireAsync().AsTask()).ToArray<Task>();
            foreach (Task caller in callers)
            {
                errors.Add(await Assert.ThrowsAnyAsync<Exception>(() => caller.WaitAsync(TestSupport.Limit)));
            }
        }

        // The callers whose own open failed get Npgsql's error; every other one gets PoolKit's, whose text used to carry
        // counts, delays and failure tallies (a new text per occurrence).
        List<PoolKitNpgsqlException> wrapped = errors.OfType<PoolKitNpgsqlException>().ToList();
        Assert.True(wrapped.Count >= 2, $"{wrapped.Count} PoolKit errors among {errors.Count}");
        Assert.Single(wrapped.Select(e => e.Message).Distinct());
        Assert.All(errors, e => Assert.True(Assert.IsAssignableFrom<NpgsqlException>(e).IsTransient, e.ToString()));
    }
}
