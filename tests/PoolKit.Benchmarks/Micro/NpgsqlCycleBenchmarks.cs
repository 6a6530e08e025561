using BenchmarkDotNet.Attributes;
using Npgsql;
using PoolKit.Benchmarks.EndToEnd;
using PoolKit.Npgsql;
using PoolKit.Testing;

namespace PoolKit.Benchmarks.Micro;

/// <summary>
/// Uncontended acquire+return of a real, already open PostgreSQL connection, no query: Npgsql's own pool cycle
/// (<c>OpenConnectionAsync</c> + <c>Dispose</c> on a pooled data source) as the baseline, and PoolKit holding
/// physical connections in an <see cref="NpgsqlConnectionPool"/> with <see cref="NpgsqlResetMode.RollbackOnly"/> (no
/// transaction is ever open, so a return costs no round trip, like Npgsql's lazy reset) and with the default
/// <see cref="NpgsqlResetMode.Discard"/> (Npgsql's own reset queued at every return, as its pool does). Target:
/// PoolKit at least 6x faster. Needs a server: POOLKIT_TEST_CONNECTION_STRING, Docker or the local PostgreSQL binaries (started once
/// per benchmark process by PoolKit.Testing).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("micro", "npgsql")]
public class NpgsqlCycleBenchmarks
{
    private PostgresTestServer _server = null!;
    private NpgsqlDataSource _dataSource = null!;
    private NpgsqlConnectionPool _poolKit = null!;
    private NpgsqlConnectionPool _poolKitDefault = null!;
    private PoolKitDataSource _poolKitDataSource = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = PostgresTestServer.StartAsync().GetAwaiter().GetResult();
        var builder = new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Pooling = true, MaxPoolSize = 16 };
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        _poolKit = SelectOneScenarios.CreatePoolKit(_server.ConnectionString, 16, NpgsqlResetMode.RollbackOnly, "bench-npgsql");
        _poolKitDefault = SelectOneScenarios.CreatePoolKit(_server.ConnectionString, 16, NpgsqlResetMode.Discard, "bench-npgsql-default");

        // Open one connection in each pool so the measured cycle never creates.
        _dataSource.OpenConnection().Dispose();
        _poolKit.AcquireAsync().AsTask().GetAwaiter().GetResult().Dispose();
        _poolKitDefault.AcquireAsync().AsTask().GetAwaiter().GetResult().Dispose();
        _poolKitDataSource = new PoolKitDataSource(_poolKitDefault);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _poolKit.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _poolKitDefault.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _dataSource.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "Npgsql pool OpenConnectionAsync+Dispose")]
    public async ValueTask<int> NpgsqlPool()
    {
        NpgsqlConnection connection = await _dataSource.OpenConnectionAsync();
        int pid = connection.ProcessID;
        await connection.DisposeAsync();
        return pid;
    }

    [Benchmark(Description = "PoolKit await AcquireAsync+Dispose (NpgsqlConnectionPool, reset RollbackOnly)")]
    public async ValueTask<int> PoolKit()
    {
        using PoolLease<NpgsqlConnection> lease = await _poolKit.AcquireAsync();
        return lease.Resource.ProcessID;
    }

    [Benchmark(Description = "PoolKit await AcquireAsync+Dispose (NpgsqlConnectionPool, defaults: reset Discard)")]
    public async ValueTask<int> PoolKitDefault()
    {
        using PoolLease<NpgsqlConnection> lease = await _poolKitDefault.AcquireAsync();
        return lease.Resource.ProcessID;
    }

    [Benchmark(Description = "PoolKitDataSource OpenConnectionAsync+DisposeAsync (defaults: reset Discard)")]
    public async ValueTask<int> PoolKitDataSource()
    {
        PoolKitDbConnection connection = await _poolKitDataSource.OpenConnectionAsync();
        int length = connection.ServerVersion.Length;
        await connection.DisposeAsync();
        return length;
    }

    /// <summary>
    /// The same cycle reading <see cref="PoolKitDbConnection.NpgsqlConnection"/> once per open: the session is lent to a
    /// fresh <see cref="NpgsqlConnection"/> object for the open and moved back at close (so a kept reference is a
    /// closed connection); the difference to the row above is the price of that isolation.
    /// </summary>
    [Benchmark(Description = "PoolKitDataSource OpenConnectionAsync+NpgsqlConnection+DisposeAsync (raw reference read)")]
    public async ValueTask<int> PoolKitDataSourceRaw()
    {
        PoolKitDbConnection connection = await _poolKitDataSource.OpenConnectionAsync();
        int pid = connection.NpgsqlConnection.ProcessID;
        await connection.DisposeAsync();
        return pid;
    }
}
