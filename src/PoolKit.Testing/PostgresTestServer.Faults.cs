using PoolKit.Testing.Internal;

namespace PoolKit.Testing;

// Fault controls: only for a local cluster this object started.
public sealed partial class PostgresTestServer
{
    /// <summary>
    /// Gets whether the server's processes are stopped by <see cref="FreezeAsync"/> and not yet continued by
    /// <see cref="ThawAsync"/>. Always <see langword="false"/> for sources other than
    /// <see cref="PostgresServerSource.LocalCluster"/>.
    /// </summary>
    public bool IsFrozen => _localCluster?.IsFrozen ?? false;

    /// <summary>
    /// Shuts the local cluster down (thawing it first if frozen); connections then fail with a real Npgsql error
    /// (connection refused). Does nothing when it is already stopped.
    /// </summary>
    /// <param name="immediate"><see langword="true"/> for PostgreSQL's immediate shutdown (like a crash: backends
    /// are killed, no checkpoint); <see langword="false"/> (default) for a fast shutdown (sessions are terminated
    /// cleanly).</param>
    /// <param name="cancellationToken">Cancels waiting for the shutdown.</param>
    /// <returns>A task that completes when the postmaster has exited.</returns>
    /// <exception cref="NotSupportedException"><see cref="Source"/> is not <see cref="PostgresServerSource.LocalCluster"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="InvalidOperationException">pg_ctl could not stop the server.</exception>
    public Task StopAsync(bool immediate = false, CancellationToken cancellationToken = default) =>
        WithClusterAsync(nameof(StopAsync), c => c.StopAsync(immediate, cancellationToken), cancellationToken);

    /// <summary>
    /// Starts the local cluster again after <see cref="StopAsync"/>, on the same data directory and port, and waits
    /// until it accepts connections (within <see cref="PostgresTestServerOptions.StartTimeout"/>). Does nothing when
    /// it is running.
    /// </summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <returns>A task that completes when the server accepts connections.</returns>
    /// <exception cref="NotSupportedException"><see cref="Source"/> is not <see cref="PostgresServerSource.LocalCluster"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="InvalidOperationException">The server could not start, for example because another process
    /// took its port meanwhile; the message includes the server log.</exception>
    public Task StartAgainAsync(CancellationToken cancellationToken = default) =>
        WithClusterAsync(nameof(StartAgainAsync), c => c.StartAsync(cancellationToken), cancellationToken);

    /// <summary>Stops the local cluster (fast shutdown) and starts it again on the same data directory and port.</summary>
    /// <param name="cancellationToken">Cancels the restart.</param>
    /// <returns>A task that completes when the server accepts connections again.</returns>
    /// <exception cref="NotSupportedException"><see cref="Source"/> is not <see cref="PostgresServerSource.LocalCluster"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="InvalidOperationException">The server could not be stopped or started.</exception>
    public Task RestartAsync(CancellationToken cancellationToken = default) =>
        WithClusterAsync(
            nameof(RestartAsync),
            async c =>
            {
                await c.StopAsync(immediate: false, cancellationToken).ConfigureAwait(false);
                await c.StartAsync(cancellationToken).ConfigureAwait(false);
            },
            cancellationToken);

    /// <summary>
    /// Suspends the local cluster: SIGSTOP to its postmaster, then to each of the postmaster's child processes.
    /// Connections and queries then hang (TCP connects still complete in the kernel) until their timeouts fire,
    /// like a server that stopped answering. Always pair with <see cref="ThawAsync"/> in a <c>finally</c>.
    /// Does nothing when already frozen.
    /// </summary>
    /// <param name="cancellationToken">Cancels waiting for another lifecycle call to finish.</param>
    /// <returns>A task that completes when every process is stopped.</returns>
    /// <exception cref="NotSupportedException"><see cref="Source"/> is not <see cref="PostgresServerSource.LocalCluster"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="InvalidOperationException">The server is not running.</exception>
    public Task FreezeAsync(CancellationToken cancellationToken = default) =>
        WithClusterAsync(
            nameof(FreezeAsync),
            c =>
            {
                c.Freeze();
                return Task.CompletedTask;
            },
            cancellationToken);

    /// <summary>Resumes the processes <see cref="FreezeAsync"/> suspended (SIGCONT). Does nothing when not frozen.</summary>
    /// <param name="cancellationToken">Cancels waiting for another lifecycle call to finish.</param>
    /// <returns>A task that completes when every process is continued.</returns>
    /// <exception cref="NotSupportedException"><see cref="Source"/> is not <see cref="PostgresServerSource.LocalCluster"/>.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    public Task ThawAsync(CancellationToken cancellationToken = default) =>
        WithClusterAsync(
            nameof(ThawAsync),
            c =>
            {
                c.Thaw();
                return Task.CompletedTask;
            },
            cancellationToken);

    private async Task WithClusterAsync(string operation, Func<LocalCluster, Task> action, CancellationToken cancellationToken)
    {
        if (_localCluster is null)
        {
            throw new NotSupportedException(
                $"{operation} only works on a local cluster started by PostgresTestServer; this server's source is {Source} "
                + $"({this}), which the helper does not control. Start one with EnvironmentVariable = null and UseDocker = false "
                + "to get a local cluster.");
        }

        ThrowIfDisposed();
        await _lifecycleGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            await action(_localCluster).ConfigureAwait(false);
        }
        finally
        {
            _lifecycleGate.Release();
        }
    }
}
