using Microsoft.Extensions.ObjectPool;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Pooling;

public sealed class ConnectionPoolOptionsTests
{
    [Fact]
    public void Validate_Defaults_AreValid()
    {
        Assert.Empty(new ConnectionPoolOptions().Validate());
    }

    [Fact]
    public void Constructor_SeveralInvalidOptions_ReportsEveryOneWithNameValueAndRule()
    {
        var options = new ConnectionPoolOptions
        {
            Name = "",
            MinSize = -1,
            MaxSize = 0,
            AcquireTimeout = TimeSpan.Zero,
            MaxWaiters = -5,
            MaxConcurrentCreations = 0,
        };

        ConnectionPoolOptionsException ex = Assert.Throws<ConnectionPoolOptionsException>(() => new ConnectionPool<FakeResource>(new FakePolicy(), options));

        Assert.Equal(6, ex.Errors.Count);
        Assert.Contains("MaxSize = 0: must be between 1 and 65536", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MinSize = -1: must be between 0 and MaxSize (0)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AcquireTimeout = 00:00:00: must be positive", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxWaiters = -5", ex.Message, StringComparison.Ordinal);
        Assert.Contains("MaxConcurrentCreations = 0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Name = ''", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_MaxSizeIntMaxValue_IsRefusedWithoutAllocating()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();

        var ex = Assert.Throws<ConnectionPoolOptionsException>(() => new ConnectionPool<FakeResource>(new FakePolicy(), new ConnectionPoolOptions { MaxSize = int.MaxValue }));

        Assert.Contains("MaxSize = 2147483647: must be between 1 and 65536 (ConnectionPoolOptions.MaxSizeLimit)", ex.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1_000_000);
    }

    [Fact]
    public void Constructor_MinSizeAboveMaxSize_IsRefused()
    {
        var ex = Assert.Throws<ConnectionPoolOptionsException>(() => new ConnectionPool<FakeResource>(new FakePolicy(), new ConnectionPoolOptions { MinSize = 5, MaxSize = 4 }));

        Assert.Equal("MinSize = 5: must be between 0 and MaxSize (4).", Assert.Single(ex.Errors));
    }

    [Theory]
    [InlineData(nameof(ConnectionPoolOptions.MaxLifetimeJitter))]
    [InlineData(nameof(ConnectionPoolOptions.CreationBackoffMax))]
    [InlineData(nameof(ConnectionPoolOptions.LeakDetectionThreshold))]
    [InlineData(nameof(ConnectionPoolOptions.ValidationTimeout))]
    public void Validate_InconsistentTimeSettings_NameTheOption(string option)
    {
        var options = new ConnectionPoolOptions();
        switch (option)
        {
            case nameof(ConnectionPoolOptions.MaxLifetimeJitter):
                options.MaxLifetime = TimeSpan.FromMinutes(1);
                options.MaxLifetimeJitter = TimeSpan.FromMinutes(2);
                break;
            case nameof(ConnectionPoolOptions.CreationBackoffMax):
                options.CreationBackoffMax = TimeSpan.FromMilliseconds(10);
                break;
            case nameof(ConnectionPoolOptions.LeakDetectionThreshold):
                options.LeakDetectionThreshold = TimeSpan.Zero;
                break;
            default:
                options.ValidationTimeout = TimeSpan.FromSeconds(-1);
                break;
        }

        Assert.StartsWith(option + " = ", Assert.Single(options.Validate()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Constructor_OptionsChangedAfterwards_PoolKeepsItsSnapshot()
    {
        var options = new ConnectionPoolOptions { MaxSize = 1, DisposeTimeout = TimeSpan.Zero };
        await using var pool = new ConnectionPool<FakeResource>(new FakePolicy(), options);

        options.MaxSize = 10;

        Assert.Equal(1, pool.Options.MaxSize);
        Assert.Equal(1, pool.GetStatistics().MaxSize);
    }

    [Fact]
    public async Task ObjectPoolResourcePolicy_AdaptsCreateAndReturn()
    {
        var inner = new CountingObjectPolicy();
        await using var pool = new ConnectionPool<StringBuilderHolder>(new ObjectPoolResourcePolicy<StringBuilderHolder>(inner), new ConnectionPoolOptions { DisposeTimeout = TimeSpan.Zero });

        PoolLease<StringBuilderHolder> lease = await pool.AcquireAsync();
        lease.Resource.Text = "dirty";
        lease.Dispose();
        using PoolLease<StringBuilderHolder> again = await pool.AcquireAsync();
        Assert.Equal("", again.Resource.Text);

        inner.Keep = false;
        again.Dispose();
        Assert.Equal(0, pool.GetStatistics().Live);
        Assert.Equal(1, inner.Created);
    }

    public sealed class StringBuilderHolder
    {
        public string Text { get; set; } = "";
    }

    private sealed class CountingObjectPolicy : IPooledObjectPolicy<StringBuilderHolder>
    {
        public int Created { get; private set; }

        public bool Keep { get; set; } = true;

        public StringBuilderHolder Create()
        {
            Created++;
            return new StringBuilderHolder();
        }

        public bool Return(StringBuilderHolder obj)
        {
            obj.Text = "";
            return Keep;
        }
    }
}
