using System.Collections.Concurrent;
using PoolKit.Tests.Fakes;

namespace PoolKit.Tests.Concurrency;

/// <summary>
/// Issue 13, defect 11: every task the pool abandons (a creation, validation, reset or destruction given up at a
/// bound or a deadline) is observed. Random acquires, cancellations, clears and returns against a policy whose
/// every step may fail asynchronously or hang, with TaskScheduler.UnobservedTaskException hooked around the run.
/// </summary>
public sealed class UnobservedTaskTests
{
    /// <summary>The only exception the policy throws, so faults of other tests running in parallel are not counted.</summary>
    private sealed class StressFault(string message) : Exception(message);

    private sealed class ChaosPolicy : IResourcePolicy<FakeResource>
    {
        private int _next;

        private static bool Roll(int percent) => Random.Shared.Next(100) < percent;

        public async ValueTask<FakeResource> CreateAsync(CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Roll(10))
            {
                // Ignores its token and fails late: abandoned by a caller at its deadline.
                await Task.Delay(Random.Shared.Next(1, 30), CancellationToken.None);
                throw new StressFault("create failed late");
            }

            return Roll(10) ? throw new StressFault("create failed") : new FakeResource(Interlocked.Increment(ref _next));
        }

        public bool IsUsable(FakeResource resource) => !Roll(2);

        public async ValueTask<bool> ValidateAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Roll(10))
            {
                await Task.Delay(Random.Shared.Next(1, 80), CancellationToken.None);
                throw new StressFault("validation failed late");
            }

            return Roll(10) ? throw new StressFault("validation failed") : true;
        }

        public async ValueTask<bool> ResetAsync(FakeResource resource, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Roll(10))
            {
                // Ignores its token beyond ResetTimeout: abandoned, then faults.
                await Task.Delay(Random.Shared.Next(1, 80), CancellationToken.None);
                throw new StressFault("reset failed late");
            }

            return Roll(10) ? throw new StressFault("reset failed") : true;
        }

        public async ValueTask DestroyAsync(FakeResource resource)
        {
            await Task.Yield();
            if (Roll(10))
            {
                await Task.Delay(Random.Shared.Next(1, 80), CancellationToken.None);
                throw new StressFault("destroy failed late");
            }

            if (Roll(10))
            {
                throw new StressFault("destroy failed");
            }
        }
    }

    [Fact]
    public async Task Stress_EverythingFailsAtRandom_NoTaskFaultsUnobserved()
    {
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
        {
            if (e.Exception.Flatten().InnerExceptions.Any(x => x is StressFault))
            {
                unobserved.Enqueue(e.Exception);
            }
        }

        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            var pool = new ConnectionPool<FakeResource>(new ChaosPolicy(), new ConnectionPoolOptions
            {
                Name = "chaos",
                MaxSize = 6,
                MinSize = 2,
                AcquireTimeout = TimeSpan.FromMilliseconds(60),
                ValidationBypassWindow = TimeSpan.FromMilliseconds(1),
                ValidationTimeout = TimeSpan.FromMilliseconds(30),
                ResetTimeout = TimeSpan.FromMilliseconds(30),
                DestroyTimeout = TimeSpan.FromMilliseconds(30),
                CreationBackoffInitial = TimeSpan.FromMilliseconds(1),
                CreationBackoffMax = TimeSpan.FromMilliseconds(5),
                MaintenanceInterval = TimeSpan.FromMilliseconds(20),
                DisposeTimeout = TimeSpan.FromSeconds(2),
            });
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            Task[] workers = Enumerable.Range(0, 12).Select(worker => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(Random.Shared.Next(1, 40)));
                    try
                    {
                        PoolLease<FakeResource> lease = await pool.AcquireAsync(cancel.Token);
                        await Task.Delay(Random.Shared.Next(0, 3));
                        switch (Random.Shared.Next(10))
                        {
                            case 0:
                                lease.MarkBroken();
                                lease.Dispose();
                                break;
                            case 1:
                                await pool.ReturnAsync(lease, cancel.Token);
                                break;
                            case 2:
                                _ = pool.ClearAsync(CancellationToken.None).AsTask();
                                lease.Dispose();
                                break;
                            default:
                                await lease.DisposeAsync();
                                break;
                        }
                    }
                    catch (Exception ex) when (ex is StressFault or OperationCanceledException or PoolExhaustedException or ResourceCreationException)
                    {
                    }
                }
            })).ToArray();
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(20));
            await pool.DisposeAsync();

            // Let the abandoned work (at most 80 ms of delay) end and fault, then make its tasks collectable.
            await Task.Delay(300);
            for (int i = 0; i < 3; i++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }

        Assert.True(unobserved.IsEmpty, $"{unobserved.Count} faulted tasks were never observed; first: {unobserved.FirstOrDefault()}");
    }
}
