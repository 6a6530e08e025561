using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class PoolLeaseTests
{
    [Fact]
    public async Task DefaultLease_HasNoResourceAndCannotBeReturned()
    {
        await using var pool = PoolFactory.Create(out _, out _);
        PoolLease<FakeResource> lease = default;

        Assert.False(lease.IsActive);
        Assert.Null(lease.PoolName);
        Assert.Throws<InvalidOperationException>(() => lease.Resource);
        lease.Dispose();
        await Assert.ThrowsAsync<ForeignLeaseException>(() => pool.ReturnAsync(lease).AsTask());
    }

    [Fact]
    public async Task Equality_SameLeaseEqualsItsCopyButNotTheNextLeaseOfTheSameSlot()
    {
        await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        PoolLease<FakeResource> copy = first;
        first.Dispose();
        using PoolLease<FakeResource> second = await pool.AcquireAsync();

        Assert.Equal(first, copy);
        Assert.True(first == copy);
        Assert.NotEqual(first, second);
    }
}
