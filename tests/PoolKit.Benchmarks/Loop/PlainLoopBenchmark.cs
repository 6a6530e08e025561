using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.ObjectPool;
using PoolKit.Benchmarks.Anchors;
using PoolKit.Benchmarks.Micro;

namespace PoolKit.Benchmarks.Loop;

/// <summary>
/// The uncontended cycle measured the way a skeptic measures it: no harness, a plain loop on one dedicated thread,
/// timed with <see cref="Stopwatch"/> around batches of a million operations (so the clock read is amortized to
/// nothing). It also measures what one read of each clock costs on this machine, because on a virtual machine the
/// clock source decides that (<c>tsc</c> in user space, <c>kvm-clock</c> through the paravirtual page, or a system
/// call), and a pool that reads a precise clock twice per cycle pays it twice.
/// </summary>
/// <remarks>
/// <c>loop [--seconds 1] [--rounds 9] [--no-contended | --contended-only]</c>. Each row warms up for the given seconds; then the rounds interleave the rows
/// (a quarter of those seconds each) and the table gives each row's median; allocations are counted with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/> over the whole run.
/// </remarks>
internal static class PlainLoopBenchmark
{
    private const int Batch = 1 << 16;
    private const string BaselineName = "ObjectPool Get+Return (baseline)";

    public static int Run(string[] args)
    {
        double seconds = 1;
        int rounds = 9;
        for (int i = 0; i < args.Length - 1; i++)
        {
            switch (args[i])
            {
                case "--seconds":
                    seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--rounds":
                    rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                default:
                    break;
            }
        }

        if (args.Contains("--contended-only"))
        {
            MeasureContended(rounds);
            return 0;
        }

        var rows = new List<Row>();
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Measure(rows, seconds, rounds);
            }
#pragma warning disable CA1031 // reported below, on the main thread
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }
        })
        {
            Name = "plain loop",
            IsBackground = false,
            Priority = ThreadPriority.Highest,
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            Console.Error.WriteLine(failure);
            return 1;
        }

        Print(rows);
        if (!args.Contains("--no-contended"))
        {
            MeasureContended(rounds);
        }

        return 0;
    }

    /// <summary>
    /// The contended rows of the micro suite without BenchmarkDotNet: 8 and 64 tasks share a pool of 4, each looping
    /// acquire, <c>await Task.Yield()</c>, return; the rounds interleave the pools and the table gives each one's median
    /// nanoseconds per operation and the median of its per-round throughput ratio to the SemaphoreSlim+Bag pool.
    /// </summary>
    private static void MeasureContended(int rounds)
    {
        const int Operations = 1 << 16;
        Console.WriteLine();
        Console.WriteLine($"Contended: tasks share a pool of 4 (acquire; await Task.Yield(); return), {Operations:N0} operations a round, {rounds} rounds");
        Console.WriteLine();
        Console.WriteLine($"| {"row",-40} | {"tasks",5} | {"ns/op",8} | {"throughput vs SemaphoreSlim+Bag",31} |");
        Console.WriteLine($"|{new string('-', 42)}|{new string('-', 7)}|{new string('-', 10)}|{new string('-', 33)}|");
        foreach (int tasks in new[] { 8, 64 })
        {
            using SemaphoreBagPool<BenchResource> semaphoreBag = BenchPools.CreateSemaphoreBag(4, prewarm: 4);
            ConnectionPool<BenchResource> poolKit = BenchPools.CreatePoolKit(4, prewarm: 4);
            try
            {
                var subjects = new (string Name, Func<int, Task> Worker, List<double> Ns)[]
                {
                    ("SemaphoreSlim+Bag, pool of 4", n => ContendedBenchmarks.SemaphoreBagWorker(semaphoreBag, n), []),
                    ("PoolKit, pool of 4", n => ContendedBenchmarks.PoolKitWorker(poolKit, n), []),
                    ("floor: Task.Yield only, no pool", ContendedBenchmarks.YieldWorker, []),
                };

                var ratios = new List<double>[subjects.Length];
                for (int i = 0; i < ratios.Length; i++)
                {
                    ratios[i] = [];
                }

                for (int r = -1; r < rounds; r++)
                {
                    foreach ((string _, Func<int, Task> worker, List<double> ns) in subjects)
                    {
                        long start = Stopwatch.GetTimestamp();
                        var running = new Task[tasks];
                        for (int t = 0; t < tasks; t++)
                        {
                            running[t] = Task.Run(() => worker(Operations / tasks));
                        }

                        Task.WaitAll(running);
                        double perOp = Stopwatch.GetElapsedTime(start).TotalNanoseconds / Operations;
                        if (r >= 0)
                        {
                            ns.Add(perOp); // round -1 is the warm-up
                        }
                    }

                    if (r >= 0)
                    {
                        for (int i = 0; i < subjects.Length; i++)
                        {
                            ratios[i].Add(subjects[0].Ns[r] / subjects[i].Ns[r]);
                        }
                    }
                }

                for (int i = 0; i < subjects.Length; i++)
                {
                    string ratio = Median(ratios[i]).ToString("0.00", CultureInfo.InvariantCulture) + "x";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {subjects[i].Name,-40} | {tasks,5} | {Median(subjects[i].Ns),8:0.0} | {ratio,31} |"));
                }
            }
            finally
            {
                poolKit.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
    }

    private static void Measure(List<Row> rows, double seconds, int rounds)
    {
        var objectPool = new DefaultObjectPool<BenchResource>(new DefaultPooledObjectPolicy<BenchResource>(), 16);
        objectPool.Return(objectPool.Get());
        using SemaphoreBagPool<BenchResource> semaphoreBag = BenchPools.CreateSemaphoreBag(16, prewarm: 16);
        ConnectionPool<BenchResource> poolKit = BenchPools.CreatePoolKit(16, prewarm: 16);
        ConnectionPool<BenchResource> resetting = BenchPools.CreatePoolKit(16, prewarm: 16, policy: new BenchResettingPolicy());
        try
        {
            rows.Add(new("clock: Stopwatch.GetTimestamp()", static () => Stopwatch.GetTimestamp()));
            rows.Add(new("clock: Environment.TickCount64", static () => Environment.TickCount64));
            rows.Add(new("clock: DateTime.UtcNow", static () => DateTime.UtcNow.Ticks));
            rows.Add(new(BaselineName, () =>
            {
                BenchResource resource = objectPool.Get();
                int uses = ++resource.Uses;
                objectPool.Return(resource);
                return uses;
            }));
            rows.Add(new("SemaphoreSlim+Bag Rent+Return", () =>
            {
                BenchResource resource = semaphoreBag.RentAsync().GetAwaiter().GetResult();
                int uses = ++resource.Uses;
                semaphoreBag.Return(resource);
                return uses;
            }));
            rows.Add(new("PoolKit TryAcquire+Dispose", () =>
            {
                if (!poolKit.TryAcquire(out PoolLease<BenchResource> lease))
                {
                    throw new InvalidOperationException("an idle resource was expected");
                }

                using (lease)
                {
                    return ++lease.Resource.Uses;
                }
            }));
            rows.Add(new("PoolKit AcquireAsync+Dispose", () =>
            {
                using PoolLease<BenchResource> lease = poolKit.AcquireAsync().GetAwaiter().GetResult();
                return ++lease.Resource.Uses;
            }));
            rows.Add(new("PoolKit TryAcquire+Dispose, policy with own reset", () =>
            {
                if (!resetting.TryAcquire(out PoolLease<BenchResource> lease))
                {
                    throw new InvalidOperationException("an idle resource was expected");
                }

                using (lease)
                {
                    return ++lease.Resource.Uses;
                }
            }));

            // Warm-up: long enough for tiered compilation to reach its optimized tier (with PGO) and settle.
            foreach (Row row in rows)
            {
                row.Time(seconds);
            }

            // Rounds interleave the rows, so that a disturbance (another process, a frequency change) hits every row
            // alike; each round's ratio is taken against the same round's baseline.
            Row baseline = rows.First(static r => r.Name == BaselineName);
            for (int r = 0; r < rounds; r++)
            {
                foreach (Row row in rows)
                {
                    row.Rounds.Add(row.Time(seconds / 4));
                }

                foreach (Row row in rows)
                {
                    row.Ratios.Add(row.Rounds[r] / baseline.Rounds[r]);
                }
            }
        }
        finally
        {
            poolKit.DisposeAsync().AsTask().GetAwaiter().GetResult();
            resetting.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void Print(List<Row> rows)
    {
        string clock = ReadOrUnknown("/sys/devices/system/clocksource/clocksource0/current_clocksource");
        Console.WriteLine($"Plain loop, one dedicated thread; clock source: {clock}; Stopwatch frequency {Stopwatch.Frequency:N0} Hz");
        Console.WriteLine("Median of the rounds; ratio = median of each round's ratio to the same round's baseline. The delegate");
        Console.WriteLine("call around each body costs every row the same (1-2 ns).");
        Console.WriteLine();
        Console.WriteLine($"| {"row",-52} | {"ns/op",8} | {"ratio",6} | {"B/op",5} |");
        Console.WriteLine($"|{new string('-', 54)}|{new string('-', 10)}|{new string('-', 8)}|{new string('-', 7)}|");
        foreach (Row row in rows)
        {
            string ratio = row.Name.StartsWith("clock", StringComparison.Ordinal) ? "" : Median(row.Ratios).ToString("0.00", CultureInfo.InvariantCulture) + "x";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {row.Name,-52} | {Median(row.Rounds),8:0.0} | {ratio,6} | {row.BytesPerOp,5:0.#} |"));
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return sorted[sorted.Length / 2];
    }

    /// <summary>One measured body: its per-round nanoseconds per operation and its allocations.</summary>
    private sealed class Row(string name, Func<long> body)
    {
        private long _ops;
        private long _allocated;
        private long _sink;

        public string Name { get; } = name;

        public List<double> Rounds { get; } = [];

        public List<double> Ratios { get; } = [];

        public double BytesPerOp => _ops == 0 ? 0 : (double)_allocated / _ops;

        /// <summary>Runs the body in batches for about <paramref name="seconds"/>; returns nanoseconds per operation.</summary>
        public double Time(double seconds)
        {
            long ops = 0;
            long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            long start = Stopwatch.GetTimestamp();
            long elapsed;
            do
            {
                _sink += Loop(body, Batch);
                ops += Batch;
                elapsed = Stopwatch.GetTimestamp() - start;
            }
            while (elapsed < seconds * Stopwatch.Frequency);

            _allocated += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
            _ops += ops;
            GC.KeepAlive(_sink);
            return elapsed * 1e9 / Stopwatch.Frequency / ops;
        }

        private static long Loop(Func<long> body, int count)
        {
            long sum = 0;
            for (int i = 0; i < count; i++)
            {
                sum += body();
            }

            return sum;
        }
    }

    private static string ReadOrUnknown(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
