namespace PoolKit.Tests.Concurrency;

/// <summary>N concurrent acquirers never cause more than N resources (issue 19, defect 9).</summary>
public sealed class SurplusCreationTests
{
    [Fact]
    public async Task ConcurrentAcquiresHeldUntilAllAreServed_CreateNoMoreThanOneResourceEach()
    {
        const int Acquirers = 1000;
        var surplus = new List<int>();
        for (int run = 0; run < 20; run++)
        {
            var policy = new YieldingCreationPolicy();
            await using var pool = new ConnectionPool<object>(policy, new ConnectionPoolOptions { Name = "surplus", MaxSize = 2 * Acquirers, MaxConcurrentCreations = 16, AcquireTimeout = TimeSpan.FromSeconds(60) });
            var acquires = new Task<PoolLease<object>>[Acquirers];
            for (int i = 0; i < Acquirers; i++)
            {
                acquires[i] = Task.Run(() => pool.AcquireAsync().AsTask());
            }

            PoolLease<object>[] leases = await Task.WhenAll(acquires).WaitAsync(TimeSpan.FromSeconds(60));
            if (policy.Created > Acquirers)
            {
                surplus.Add(policy.Created - Acquirers);
            }

            foreach (PoolLease<object> lease in leases)
            {
                lease.Dispose();
            }
        }

        Assert.True(surplus.Count == 0, $"surplus creations in {surplus.Count} of 20 runs: {string.Join(", ", surplus)}");
    }

    private sealed class YieldingCreationPolicy : ResourcePolicy<object>
    {
        private int _created;

        public int Created => Volatile.Read(ref _created);

        public override async ValueTask<object> CreateAsync(CancellationToken cancellationToken)
        {
            await Task.Yield();
            Interlocked.Increment(ref _created);
            return new object();
        }
    }
}
