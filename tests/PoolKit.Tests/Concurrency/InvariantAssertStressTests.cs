using System.Collections.Concurrent;
using System.Diagnostics;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Concurrency;

/// <summary>
/// The pool's Debug.Assert invariants (the conservation ledger, counters in range, ownership at every hand-out) armed
/// under contention: many tasks hammer a pool with random creation failures, slow and hanging resets and destructions
/// (so work is abandoned), validation, breakage, cancellation, timeouts and clears, while a recording trace listener
/// (in place of the default one, which ends the process) turns every failed assertion into a test failure. Debug
/// builds only: Release compiles the assertions out.
/// </summary>
[Collection(DebugAssertListeners.Name)]
public sealed class InvariantAssertStressTests
{
    [Theory]
    [InlineData(1, 16, 1)]
    [InlineData(4, 32, 2)]
    [InlineData(8, 64, 3)]
    public async Task Stress_AssertsArmedUnderContention_NoneFires(int maxSize, int tasks, int seed)
    {
        var recorder = new RecordingListener();
        TraceListener[] previous = [.. Trace.Listeners.Cast<TraceListener>()];
        Trace.Listeners.Clear();
        Trace.Listeners.Add(recorder);
        try
        {
            // The recorder catches the assertions of this build, or the test would prove nothing.
            Debug.Assert(false, "probe");
            Assert.Equal(["probe"], recorder.Failures);
            recorder.Failures.Clear();

            var policy = new HangingPolicy(seed);
            var options = new ConnectionPoolOptions
            {
                Name = $"asserts-{maxSize}-{tasks}",
                MaxSize = maxSize,
                MinSize = Math.Min(2, maxSize),
                AcquireTimeout = TimeSpan.FromMilliseconds(200),
                ValidationBypassWindow = TimeSpan.FromMilliseconds(1),
                CreationBackoffInitial = TimeSpan.FromMilliseconds(1),
                CreationBackoffMax = TimeSpan.FromMilliseconds(5),
                MaintenanceInterval = TimeSpan.FromMilliseconds(20),
                IdleTimeout = TimeSpan.FromMilliseconds(50),
                MaxLifetime = TimeSpan.FromMilliseconds(300),
                ResetTimeout = TimeSpan.FromMilliseconds(5),
                ValidationTimeout = TimeSpan.FromMilliseconds(5),
                DestroyTimeout = TimeSpan.FromMilliseconds(5),
                MaxConcurrentCreations = 2,
            };
            var pool = new ConnectionPool<FakeResource>(policy, options);
            long acquired = 0;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            Task[] workers = Enumerable.Range(0, tasks).Select(i => Task.Run(async () =>
            {
                var random = new Random((seed * 1000) + i);
                while (!stop.IsCancellationRequested)
                {
                    using var cts = new CancellationTokenSource();
                    if (random.Next(10) == 0)
                    {
                        cts.CancelAfter(random.Next(0, 3));
                    }

                    PoolLease<FakeResource> lease;
                    try
                    {
                        lease = await pool.AcquireAsync(cts.Token);
                    }
                    catch (Exception ex) when (ex is OperationCanceledException or PoolExhaustedException or ResourceCreationException or InvalidOperationException)
                    {
                        continue;
                    }

                    Interlocked.Increment(ref acquired);
                    if (random.Next(2) == 0)
                    {
                        await Task.Yield();
                    }

                    int fault = random.Next(40);
                    if (fault == 0)
                    {
                        lease.MarkBroken();
                    }
                    else if (fault == 1)
                    {
                        _ = pool.ClearAsync();
                    }

                    await lease.DisposeAsync();
                }
            })).ToArray();

            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));
            policy.ReleaseHung();
            await pool.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.True(acquired > 20, $"too little work done: {acquired} acquires");
            Assert.True(recorder.Failures.IsEmpty, $"{recorder.Failures.Count} assertions failed, the first: {string.Join(" | ", recorder.Failures.Take(3))}");
            Assert.True(policy.Abandonable > 0, "no reset or destruction outlived its bound: the abandonment paths were not exercised");
#if DEBUG
            // At rest the ledger balances with what the pool and the policy see (abandoned work may still be ending).
            var watch = Stopwatch.StartNew();
            while (pool.LedgerCounts != (0, 0, 0) && watch.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(10);
            }

            Assert.Equal((0, 0, 0), pool.LedgerCounts);
#endif
            Assert.True(recorder.Failures.IsEmpty, $"{recorder.Failures.Count} assertions failed, the first: {string.Join(" | ", recorder.Failures.Take(3))}");
        }
        finally
        {
            Trace.Listeners.Clear();
            Trace.Listeners.AddRange(previous);
        }
    }

    /// <summary>A failed assertion is recorded (and the thread goes on) instead of ending the process.</summary>
    private sealed class RecordingListener : TraceListener
    {
        public ConcurrentQueue<string> Failures { get; } = new();

        public override void Fail(string? message, string? detailMessage) => Failures.Enqueue(message ?? detailMessage ?? "(no message)");

        public override void Write(string? message)
        {
        }

        public override void WriteLine(string? message)
        {
        }
    }

    /// <summary>Creations that fail now and then; resets, validations and destructions that sometimes outlive their 5 ms bound or ignore their token until released.</summary>
    private sealed class HangingPolicy : IResourcePolicy<FakeResource>
    {
        private readonly FakePolicy _inner = new();
        private readonly ConcurrentDictionary<int, Random> _randoms = new();
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly int _seed;
        private int _abandonable;

        public HangingPolicy(int seed) => _seed = seed;

        public int Abandonable => Volatile.Read(ref _abandonable);

        public async ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken)
        {
            if (Rng().Next(10) == 0)
            {
                throw new InvalidOperationException("injected creation failure");
            }

            if (Rng().Next(3) == 0)
            {
                await Task.Yield();
            }

            return await _inner.CreateAsync(cancellationToken);
        }

        public bool IsUsable(FakeResource resource) => _inner.IsUsable(resource);

        public async ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            await SometimesSlowAsync();
            return Rng().Next(10) != 0;
        }

        public async ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            await SometimesSlowAsync();
            return Rng().Next(30) != 0;
        }

        public async ValueTask DestroyAsync(FakeResource resource)
        {
            await SometimesSlowAsync();
            await _inner.DestroyAsync(resource);
        }

        /// <summary>Completes at once, after a yield, after 10-20 ms, or (rarely) when the test releases it: each ignoring the bound's token.</summary>
        private async Task SometimesSlowAsync()
        {
            switch (Rng().Next(40))
            {
                case 0:
                    Interlocked.Increment(ref _abandonable);
                    await _released.Task.WaitAsync(TimeSpan.FromMilliseconds(300));
                    break;
                case < 4:
                    Interlocked.Increment(ref _abandonable);
                    await Task.Delay(Rng().Next(10, 20));
                    break;
                case < 20:
                    await Task.Yield();
                    break;
                default:
                    break;
            }
        }

        public void ReleaseHung() => _released.TrySetResult();

        private Random Rng() => _randoms.GetOrAdd(Environment.CurrentManagedThreadId, id => new Random(_seed ^ id));
    }
}
