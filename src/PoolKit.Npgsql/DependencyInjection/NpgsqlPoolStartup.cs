using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>Waits at host start until a pool has opened max(MinSize, 1) connections, or fails the start.</summary>
internal static class NpgsqlPoolStartup
{
    public static async Task WaitAsync(NpgsqlConnectionPool pool, TimeSpan timeout, CancellationToken cancellationToken)
    {
        int target = Math.Max(pool.Options.MinSize, 1);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        long started = Stopwatch.GetTimestamp();
        Exception? last = null;
        try
        {
            // One lease proves the server accepts these settings, and surfaces the real error if it does not.
            while (true)
            {
                try
                {
                    PoolLease<NpgsqlConnection> lease = await pool.AcquireAsync(deadline.Token).ConfigureAwait(false);
                    await pool.ReturnAsync(lease, deadline.Token).ConfigureAwait(false);
                    break;
                }
                catch (NpgsqlException ex) when (ex.IsTransient)
                {
                    last = ex;
                    await Task.Delay(TimeSpan.FromMilliseconds(100), deadline.Token).ConfigureAwait(false);
                }
            }

            // Open ones only: Live also counts connections still being created or destroyed.
            while (pool.GetStatistics() is var s && s.Idle + s.Leased < target)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            PoolStatistics now = pool.GetStatistics();
            throw new InvalidOperationException(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"Pool '{pool.Name}' did not open {target} connection(s) within StartupTimeout = {timeout.TotalSeconds:0.###} s (open: {now.Idle + now.Leased}, creation failures: {now.TotalCreationFailures}, waited {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s). {(last is null ? "" : "Last error: " + last.Message)}"),
                last);
        }
    }
}
