using BenchmarkDotNet.Running;
using PoolKit.Benchmarks.EndToEnd;
using PoolKit.Benchmarks.Loop;

namespace PoolKit.Benchmarks;

/// <summary>
/// Entry point. <c>micro [BenchmarkDotNet arguments] [--quick]</c> runs the microbenchmarks;
/// <c>e2e [options]</c> runs the end-to-end scenarios against PostgreSQL (see <see cref="ScenarioRunner"/>);
/// <c>bulk [options]</c> runs the bulk-load comparison (see <see cref="BulkLoadBenchmark"/>); <c>failover [options]</c>
/// races PoolKit against Npgsql's pool through failovers (see <see cref="FailoverBenchmark"/>).
/// </summary>
public static class Program
{
    private const string Usage = """
        PoolKit benchmarks

          micro [BenchmarkDotNet arguments] [--quick]
              Microbenchmarks (BenchmarkDotNet). Examples:
                micro --filter '*' --join                 everything, one joined summary table
                micro --filter '*Uncontended*'            one class
                micro --filter '*' --join --quick         fast, less precise run (same as --job short)
                micro --list flat                         list the benchmarks
              Any BenchmarkDotNet option works (--job, --exporters, --profiler EP, --disasm, ...).

          loop [--seconds 1] [--rounds 9] [--no-contended | --contended-only]
              The uncontended cycle in a plain Stopwatch loop on one dedicated thread (no harness), beside
              ObjectPool and the SemaphoreSlim+Bag pool, and the cost of one read of each clock on this machine.

          e2e [--connection <npgsql connection string>] [--concurrency 1,8,64] [--duration 5] [--warmup 2]
              [--repeats 3] [--max-pool-size 16] [--no-pgbench] [--markdown file.md] [--csv file.csv]
              End-to-end SELECT 1 scenarios. Without --connection, starts a throwaway PostgreSQL with
              PoolKit.Testing (or uses POOLKIT_TEST_CONNECTION_STRING).

          bulk [--connection <npgsql connection string>] [--rows 200000] [--row-loads 10000] [--rounds 3] [--parallel 8]
               [--only <text>] [--markdown file.md]
              End-to-end bulk load, one run each, rows/s, ratios and bytes per row: three hand-written anchors
              (autocommit INSERT per row and chunked 1,000-row INSERT on Npgsql's pool, one binary COPY stream)
              against ParallelBatchRunner in each mode (SQL, insert, COPY).

          failover [--rounds 5] [--writers 3] [--retry-ms 5] [--outage-ms 1000] [--immediate] [--suffix ";Host Recheck Seconds=1"]
                   [--backoff-max-ms 2000]
              Time from promote to the first successful write, PoolKitDataSource against Npgsql's pool, both writing
              through the same failover of a fresh local primary/standby pair per round; prints every sample and the medians.
        """;

    /// <summary>Runs the part named by the first argument.</summary>
    /// <param name="args">The part (<c>micro</c> or <c>e2e</c>) followed by its options.</param>
    /// <returns>The process exit code.</returns>
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 1 : 0;
        }

        string[] rest = args[1..];
        switch (args[0])
        {
            case "micro":
                BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(TranslateQuick(rest));
                return 0;
            case "e2e":
                return await ScenarioRunner.RunAsync(rest).ConfigureAwait(false);
            case "bulk":
                return await BulkLoadBenchmark.RunAsync(rest).ConfigureAwait(false);
            case "failover":
                return await FailoverBenchmark.RunAsync(rest).ConfigureAwait(false);
            case "loop":
                return PlainLoopBenchmark.Run(rest);
            default:
                Console.Error.WriteLine($"unknown part '{args[0]}'");
                Console.Error.WriteLine(Usage);
                return 1;
        }
    }

    /// <summary><c>--quick</c> is shorthand for BenchmarkDotNet's <c>--job short</c> (3 warm-ups, 3 iterations, 1 launch).</summary>
    private static string[] TranslateQuick(string[] args) =>
        args.SelectMany(static a => a == "--quick" ? new[] { "--job", "short" } : new[] { a }).ToArray();
}
