using Microsoft.Extensions.Hosting;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>
/// Builds every registered pool when the host starts, so that pools warm up to MinSize before traffic arrives and
/// invalid settings fail the start; pools whose options ask for it are waited for (see
/// <see cref="NpgsqlConnectionPoolOptions.StartupTimeout"/>). Stopping does nothing: the container disposes the pools.
/// </summary>
internal sealed class ConnectionPoolHostedService(IServiceProvider services, IEnumerable<PoolStartup> startups) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(startups.Select(s => s.StartAsync(services, cancellationToken)));

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
