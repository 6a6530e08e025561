using System.Data;
using BenchmarkDotNet.Attributes;
using Npgsql;
using PoolKit.Npgsql;
using PoolKit.Testing;

namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// The cost per hand-out of <see cref="NpgsqlConnectionPolicy.IsUsable"/>'s look at an idle connection's socket (has
/// the server ended the session?), on a real open PostgreSQL connection: the state test the check had before
/// (<c>FullState == Open</c>) as the baseline, and <see cref="NpgsqlConnectionPolicy.IsUsable"/> with the look, side
/// by side. The connection is never returned, so every call is past the 1 ms bypass after a return and really looks
/// (a busy pool's hand-outs within the bypass skip the look: <see cref="NpgsqlCycleBenchmarks"/>). Target: the
/// difference at most 1 µs. Needs a server (see <see cref="NpgsqlCycleBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("micro", "npgsql")]
public class HangupCheckBenchmarks
{
    private PostgresTestServer _server = null!;
    private NpgsqlDataSource _dataSource = null!;
    private NpgsqlConnectionPolicy _policy = null!;
    private NpgsqlConnection _connection = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = PostgresTestServer.StartAsync().GetAwaiter().GetResult();
        var builder = new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Pooling = false, ApplicationName = "bench-hangup" };
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        _policy = new NpgsqlConnectionPolicy(_dataSource);
        _connection = _policy.CreateAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        if (!_policy.IsUsable(_connection))
        {
            throw new InvalidOperationException("The open idle connection must be usable.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _policy.DestroyAsync(_connection).AsTask().GetAwaiter().GetResult();
        _dataSource.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "state only: FullState == Open (the check without the look)")]
    public bool StateOnly() => _connection.FullState == ConnectionState.Open;

    [Benchmark(Description = "NpgsqlConnectionPolicy.IsUsable (state + socket look)")]
    public bool IsUsable() => _policy.IsUsable(_connection);
}
