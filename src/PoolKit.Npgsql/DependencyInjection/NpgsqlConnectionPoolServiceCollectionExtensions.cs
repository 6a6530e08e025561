using System.Data.Common;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using PoolKit;
using PoolKit.Npgsql;
using PoolKit.Npgsql.DependencyInjection;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers named <see cref="NpgsqlConnectionPool"/>s with dependency injection.</summary>
/// <remarks>
/// <para>Each pool is a keyed singleton under its name (<see cref="NpgsqlConnectionPool"/> and
/// <see cref="IConnectionPool{T}"/> of <see cref="NpgsqlConnection"/>), and so is its data source face
/// (<see cref="PoolKitDataSource"/> and <see cref="DbDataSource"/>); the pool named
/// <see cref="DefaultName"/> is also registered without a key. Resolve others with
/// <c>GetRequiredKeyedService&lt;NpgsqlConnectionPool&gt;("orders")</c> or <c>[FromKeyedServices("orders")]</c>.</para>
/// <para>Options are named options validated on start (every violated rule is reported); the pool's
/// <see cref="ConnectionPoolOptions.Name"/> is set to the registration name. The pool takes
/// <see cref="ILoggerFactory"/>, <see cref="IMeterFactory"/> and <see cref="TimeProvider"/> from the container
/// when registered (Npgsql's own logs go to the same logger factory), is built when the host starts (a hosted
/// service; outside a host, on first resolution), and is disposed with the container.</para>
/// <para>Where the options carry no connection string, <c>ConnectionStrings:&lt;name&gt;</c> of the registered
/// <see cref="IConfiguration"/> is used.</para>
/// </remarks>
public static class NpgsqlConnectionPoolServiceCollectionExtensions
{
    /// <summary>The name of the pool registered without a name, also resolvable without a key.</summary>
    public const string DefaultName = "default";

    /// <summary>Registers the default pool (<see cref="DefaultName"/>).</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (at least the connection string).</param>
    /// <returns>The options builder, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    /// <exception cref="InvalidOperationException">A pool with this name is already registered.</exception>
    public static OptionsBuilder<NpgsqlConnectionPoolOptions> AddNpgsqlConnectionPool(this IServiceCollection services, Action<NpgsqlConnectionPoolOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddNpgsqlConnectionPool(DefaultName).Configure(configure);
    }

    /// <summary>Registers a named pool; configure it through the returned builder or other named-options calls.</summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The pool's name: its service key, options name and <see cref="ConnectionPoolOptions.Name"/>.</param>
    /// <param name="configure">Sets the options. Default: none (configure them elsewhere).</param>
    /// <returns>The options builder, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or blank.</exception>
    /// <exception cref="InvalidOperationException">A pool with this name is already registered.</exception>
    public static OptionsBuilder<NpgsqlConnectionPoolOptions> AddNpgsqlConnectionPool(this IServiceCollection services, string name, Action<NpgsqlConnectionPoolOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (services.Any(d => d.IsKeyedService && d.ServiceType == typeof(NpgsqlConnectionPool) && Equals(d.ServiceKey, name)))
        {
            throw new InvalidOperationException($"An Npgsql connection pool named '{name}' is already registered.");
        }

        OptionsBuilder<NpgsqlConnectionPoolOptions> builder = services.AddOptions<NpgsqlConnectionPoolOptions>(name);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        builder.PostConfigure(options => (options.Pool ??= new ConnectionPoolOptions()).Name = name);

        // Where no connection string was configured, take ConnectionStrings:<name>, as ASP.NET Core apps keep them.
        builder.PostConfigure<IServiceProvider>((options, sp) =>
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString) && sp.GetService<IConfiguration>() is { } configuration)
            {
                options.ConnectionString = configuration.GetConnectionString(name);
            }
        });
        builder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<NpgsqlConnectionPoolOptions>, NpgsqlConnectionPoolOptionsValidator>());

        // Built when the host starts (warm-up to MinSize begins then), and waited for if StartupTimeout is set.
        services.AddSingleton(new PoolStartup(name, (sp, ct) =>
        {
            NpgsqlConnectionPool pool = sp.GetRequiredKeyedService<NpgsqlConnectionPool>(name);
            TimeSpan? wait = sp.GetRequiredService<IOptionsMonitor<NpgsqlConnectionPoolOptions>>().Get(name).StartupTimeout;
            return wait is { } timeout ? NpgsqlPoolStartup.WaitAsync(pool, timeout, ct) : Task.CompletedTask;
        }));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ConnectionPoolHostedService>());

        services.AddKeyedSingleton(name, static (sp, key) => CreatePool(sp, (string)key!));
        services.AddKeyedSingleton<IConnectionPool<NpgsqlConnection>>(name, static (sp, key) => sp.GetRequiredKeyedService<NpgsqlConnectionPool>(key));
        services.AddKeyedSingleton(name, static (sp, key) => new PoolKitDataSource(sp.GetRequiredKeyedService<NpgsqlConnectionPool>(key)));
        services.AddKeyedSingleton<DbDataSource>(name, static (sp, key) => sp.GetRequiredKeyedService<PoolKitDataSource>(key));
        if (name == DefaultName)
        {
            services.AddSingleton(static sp => sp.GetRequiredKeyedService<NpgsqlConnectionPool>(DefaultName));
            services.AddSingleton<IConnectionPool<NpgsqlConnection>>(static sp => sp.GetRequiredKeyedService<NpgsqlConnectionPool>(DefaultName));
            services.AddSingleton(static sp => sp.GetRequiredKeyedService<PoolKitDataSource>(DefaultName));
            services.AddSingleton<DbDataSource>(static sp => sp.GetRequiredKeyedService<PoolKitDataSource>(DefaultName));
        }

        return builder;
    }

    /// <summary>Registers a named pool whose options are bound from a configuration section.</summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The pool's name: its service key, options name and <see cref="ConnectionPoolOptions.Name"/>.</param>
    /// <param name="configuration">The section, for example <c>{ "ConnectionString": "...", "ResetMode": "Discard", "Pool": { "MaxSize": 20 } }</c>.</param>
    /// <returns>The options builder, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configuration"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or blank.</exception>
    /// <exception cref="InvalidOperationException">A pool with this name is already registered.</exception>
    public static OptionsBuilder<NpgsqlConnectionPoolOptions> AddNpgsqlConnectionPool(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddNpgsqlConnectionPool(name).Bind(configuration);
    }

    private static NpgsqlConnectionPool CreatePool(IServiceProvider services, string name)
    {
        NpgsqlConnectionPoolOptions options = services.GetRequiredService<IOptionsMonitor<NpgsqlConnectionPoolOptions>>().Get(name);
        return new NpgsqlConnectionPool(
            options,
            services.GetService<ILoggerFactory>(),
            services.GetService<IMeterFactory>(),
            services.GetService<TimeProvider>());
    }
}
