using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PoolKit;
using PoolKit.Npgsql.DependencyInjection;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers named <see cref="ConnectionPool{T}"/>s of any resource (not only database connections) with dependency injection.</summary>
/// <remarks>
/// Each pool is a keyed singleton under its name (<see cref="ConnectionPool{T}"/> and <see cref="IConnectionPool{T}"/>);
/// the pool named <see cref="NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName"/> is also registered without a key.
/// Options are named <see cref="ConnectionPoolOptions"/> validated on start, with <see cref="ConnectionPoolOptions.Name"/>
/// set to the registration name. The pool takes <see cref="ILoggerFactory"/>, <see cref="IMeterFactory"/> and
/// <see cref="TimeProvider"/> from the container when registered, is built when the host starts, and is disposed with
/// the container. Configure the options through the returned builder (their options name includes the resource type,
/// so pools of different types may share a name).
/// </remarks>
public static class ConnectionPoolServiceCollectionExtensions
{
    /// <summary>Registers a named pool of <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The pooled resource type.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="name">The pool's name: its service key, options name and <see cref="ConnectionPoolOptions.Name"/>.</param>
    /// <param name="policyFactory">Creates the policy that creates, checks, resets and destroys resources (called once).</param>
    /// <returns>The options builder, for further configuration (for example <c>.Bind(section)</c>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="policyFactory"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or blank.</exception>
    /// <exception cref="InvalidOperationException">A pool of <typeparamref name="T"/> with this name is already registered.</exception>
    public static OptionsBuilder<ConnectionPoolOptions> AddConnectionPool<T>(this IServiceCollection services, string name, Func<IServiceProvider, IResourcePolicy<T>> policyFactory)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(policyFactory);
        if (services.Any(d => d.IsKeyedService && d.ServiceType == typeof(ConnectionPool<T>) && Equals(d.ServiceKey, name)))
        {
            throw new InvalidOperationException($"A connection pool of {typeof(T).Name} named '{name}' is already registered.");
        }

        string optionsName = OptionsName<T>(name);
        OptionsBuilder<ConnectionPoolOptions> builder = services.AddOptions<ConnectionPoolOptions>(optionsName);
        builder.PostConfigure(options => options.Name = name)
            .Validate(options => options.Validate().Count == 0, $"The options of connection pool '{name}' are invalid.")
            .ValidateOnStart();

        services.AddKeyedSingleton(name, (sp, _) => new ConnectionPool<T>(
            policyFactory(sp),
            sp.GetRequiredService<IOptionsMonitor<ConnectionPoolOptions>>().Get(optionsName),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<IMeterFactory>(),
            sp.GetService<TimeProvider>()));
        services.AddKeyedSingleton<IConnectionPool<T>>(name, static (sp, key) => sp.GetRequiredKeyedService<ConnectionPool<T>>(key));
        if (name == NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName)
        {
            services.AddSingleton(static sp => sp.GetRequiredKeyedService<ConnectionPool<T>>(NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName));
            services.AddSingleton<IConnectionPool<T>>(static sp => sp.GetRequiredKeyedService<ConnectionPool<T>>(NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName));
        }

        services.AddSingleton(new PoolStartup(name, (sp, _) =>
        {
            sp.GetRequiredKeyedService<ConnectionPool<T>>(name);
            return Task.CompletedTask;
        }));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ConnectionPoolHostedService>());
        return builder;
    }

    /// <summary>Registers the default pool of <typeparamref name="T"/> (also resolvable without a key).</summary>
    /// <typeparam name="T">The pooled resource type.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="policyFactory">Creates the policy (called once).</param>
    /// <param name="configure">Sets the options. Default: none.</param>
    /// <returns>The options builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="policyFactory"/> is null.</exception>
    /// <exception cref="InvalidOperationException">A default pool of <typeparamref name="T"/> is already registered.</exception>
    public static OptionsBuilder<ConnectionPoolOptions> AddConnectionPool<T>(this IServiceCollection services, Func<IServiceProvider, IResourcePolicy<T>> policyFactory, Action<ConnectionPoolOptions>? configure = null)
        where T : class
    {
        OptionsBuilder<ConnectionPoolOptions> builder = services.AddConnectionPool(NpgsqlConnectionPoolServiceCollectionExtensions.DefaultName, policyFactory);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return builder;
    }

    /// <summary>The options name of a pool: pools of different resource types may share a registration name.</summary>
    private static string OptionsName<T>(string name) => $"{typeof(T).FullName}:{name}";
}
