using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class PoolLeaseTests
{
    [Fact]
    public async Task Dispose_Twice_IsIdempotent()
    {
        await using var pool = PoolFactory.Create(out FakePolicy policy, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();

        lease.Dispose();
        lease.Dispose();
        await lease.DisposeAsync();

        Assert.Equal(1, pool.GetStatistics().Idle);
    }

    [Fact]
    public async Task Resource_AfterReturn_ThrowsLeaseAlreadyReturned()
    {
        await using var pool = PoolFactory.Create(out _, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();
        lease.Dispose();

        LeaseAlreadyReturnedException ex = Assert.Throws<LeaseAlreadyReturnedException>(() => lease.Resource);
        Assert.Equal("test", ex.PoolName);
        Assert.False(lease.IsActive);
        Assert.Throws<LeaseAlreadyReturnedException>(lease.MarkBroken);
    }

    [Fact]
    public async Task Dispose_StaleCopyAfterTheSlotWasLeasedAgain_DoesNotTouchTheNewLease()
    {
        await using var pool = PoolFactory.Create(out _, out _, o => o.MaxSize = 1);
        PoolLease<FakeResource> first = await pool.AcquireAsync();
        PoolLease<FakeResource> copy = first;
        first.Dispose();
        PoolLease<FakeResource> second = await pool.AcquireAsync();

        copy.Dispose();

        Assert.True(second.IsActive);
        Assert.Equal(1, pool.GetStatistics().Leased);
        Assert.False(pool.TryAcquire(out _));
        second.Dispose();
    }

    [Fact]
    public async Task ReturnAsync_Twice_ThrowsLeaseAlreadyReturnedAndThePoolStaysIntact()
    {
        await using var pool = PoolFactory.Create(out _, out _);
        PoolLease<FakeResource> lease = await pool.AcquireAsync();

        await pool.ReturnAsync(lease);

        await Assert.ThrowsAsync<LeaseAlreadyReturnedException>(() => pool.ReturnAsync(lease).AsTask());
        Assert.Equal(1, pool.GetStatistics().Idle);
        pool.AssertInvariantsQuiescent();
    }

    [Fact]
    public async Task ReturnAsync_LeaseOfAnotherPool_ThrowsForeignLeaseAndNeitherPoolChanges()
    {
        await using var pool = PoolFactory.Create(out _, out _);
        await using var other = PoolFactory.Create(out _, out _, o => o.Name = "other");
        PoolLease<FakeResource> lease = await other.AcquireAsync();

        ForeignLeaseException ex = await Assert.ThrowsAsync<ForeignLeaseException>(() => pool.ReturnAsync(lease).AsTask());

        Assert.Equal("other", ex.LeasePoolName);
        Assert.Contains("'other'", ex.Message, StringComparison.Ordinal);
        Assert.True(lease.IsActive);
        Assert.Equal(1, other.GetStatistics().Leased);
        Assert.Equal(0, pool.GetStatistics().Live);
        lease.Dispose();
    }

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
