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

    /// <summary>
    /// Registers a named pool whose options are bound from a configuration section, with its data source configured on
    /// an <see cref="NpgsqlDataSourceBuilder"/>: type mappings (<c>MapEnum</c>, <c>MapComposite</c>), plugins
    /// (<c>UseNodaTime</c>), JSON (<c>EnableDynamicJson</c>, <c>ConfigureJsonOptions</c>), a password provider
    /// (<c>UsePeriodicPasswordProvider</c>), certificates and SSL callbacks, logging.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The pool's name: its service key, options name and <see cref="ConnectionPoolOptions.Name"/>.</param>
    /// <param name="configuration">The section, as for <see cref="AddNpgsqlConnectionPool(IServiceCollection, string, IConfiguration)"/>.</param>
    /// <param name="configureDataSource">Configures the builder (see <see cref="ConfigureDataSource(OptionsBuilder{NpgsqlConnectionPoolOptions}, Action{NpgsqlDataSourceBuilder})"/>).</param>
    /// <returns>The options builder, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/>, <paramref name="configuration"/> or <paramref name="configureDataSource"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or blank.</exception>
    /// <exception cref="InvalidOperationException">A pool with this name is already registered.</exception>
    public static OptionsBuilder<NpgsqlConnectionPoolOptions> AddNpgsqlConnectionPool(this IServiceCollection services, string name, IConfiguration configuration, Action<NpgsqlDataSourceBuilder> configureDataSource)
    {
        ArgumentNullException.ThrowIfNull(configureDataSource);
        return services.AddNpgsqlConnectionPool(name, configuration).ConfigureDataSource(configureDataSource);
    }

    /// <summary>
    /// Registers a named pool with its options set in code and its data source configured on an
    /// <see cref="NpgsqlDataSourceBuilder"/> (see <see cref="AddNpgsqlConnectionPool(IServiceCollection, string, IConfiguration, Action{NpgsqlDataSourceBuilder})"/>).
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="name">The pool's name: its service key, options name and <see cref="ConnectionPoolOptions.Name"/>.</param>
    /// <param name="configure">Sets the options (the connection string among them, or <c>ConnectionStrings:&lt;name&gt;</c> is used).</param>
    /// <param name="configureDataSource">Configures the builder.</param>
    /// <returns>The options builder, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/>, <paramref name="configure"/> or <paramref name="configureDataSource"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or blank.</exception>
    /// <exception cref="InvalidOperationException">A pool with this name is already registered.</exception>
    public static OptionsBuilder<NpgsqlConnectionPoolOptions> AddNpgsqlConnectionPool(this IServiceCollection services, string name, Action<NpgsqlConnectionPoolOptions> configure, Action<NpgsqlDataSourceBuilder> configureDataSource)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(configureDataSource);
        return services.AddNpgsqlConnectionPool(name, configure).ConfigureDataSource(configureDataSource);
    }

    /// <summary>
    /// Configures the data source of a pool registered with <c>AddNpgsqlConnectionPool</c> on an
    /// <see cref="NpgsqlDataSourceBuilder"/>, as <c>AddNpgsqlDataSource</c> does for Npgsql's own pool. Callbacks run in
    /// registration order when the pool is built.
    /// </summary>
    /// <param name="builder">The pool's options builder.</param>
    /// <param name="configureDataSource">Configures the builder. It starts from the pool's connection string, with
    /// Npgsql's logging already set to the container's <see cref="ILoggerFactory"/> (call <c>UseLoggerFactory</c> to
    /// change it). Leave the pool-sizing keywords (<c>Max Pool Size</c> and the like) alone: they are rejected, as in
    /// a connection string; PoolKit turns Npgsql's pooling off itself.</param>
    /// <returns><paramref name="builder"/>, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configureDataSource"/> is null.</exception>
    public static OptionsBuilder<NpgsqlConnectionPoolOptions> ConfigureDataSource(this OptionsBuilder<NpgsqlConnectionPoolOptions> builder, Action<NpgsqlDataSourceBuilder> configureDataSource)
    {
        ArgumentNullException.ThrowIfNull(configureDataSource);
        return builder.ConfigureDataSource((_, dataSource) => configureDataSource(dataSource));
    }

    /// <summary>
    /// Configures the data source of a pool registered with <c>AddNpgsqlConnectionPool</c> on an
    /// <see cref="NpgsqlDataSourceBuilder"/>, with the container at hand (for example to take a token credential for
    /// <c>UsePeriodicPasswordProvider</c> from it).
    /// </summary>
    /// <param name="builder">The pool's options builder.</param>
    /// <param name="configureDataSource">Configures the builder (see <see cref="ConfigureDataSource(OptionsBuilder{NpgsqlConnectionPoolOptions}, Action{NpgsqlDataSourceBuilder})"/>).</param>
    /// <returns><paramref name="builder"/>, for further configuration.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configureDataSource"/> is null.</exception>
    public static OptionsBuilder<NpgsqlConnectionPoolOptions> ConfigureDataSource(this OptionsBuilder<NpgsqlConnectionPoolOptions> builder, Action<IServiceProvider, NpgsqlDataSourceBuilder> configureDataSource)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configureDataSource);
        builder.Services.Configure<NpgsqlDataSourceConfiguration>(builder.Name, c => c.Actions.Add(configureDataSource));
        return builder;
    }

    private static NpgsqlConnectionPool CreatePool(IServiceProvider services, string name)
    {
        NpgsqlConnectionPoolOptions options = services.GetRequiredService<IOptionsMonitor<NpgsqlConnectionPoolOptions>>().Get(name);
        ILoggerFactory? loggerFactory = services.GetService<ILoggerFactory>();
        List<Action<IServiceProvider, NpgsqlDataSourceBuilder>> actions = services.GetRequiredService<IOptionsMonitor<NpgsqlDataSourceConfiguration>>().Get(name).Actions;
        if (actions.Count == 0)
        {
            return new NpgsqlConnectionPool(options, loggerFactory, services.GetService<IMeterFactory>(), services.GetService<TimeProvider>());
        }

        // The builder takes the connection string; the options keep the rest (the validator has checked both).
        NpgsqlConnectionPoolOptions rest = options.Clone();
        var dataSource = new NpgsqlDataSourceBuilder(rest.ConnectionString);
        rest.ConnectionString = null;
        dataSource.UseLoggerFactory(loggerFactory);
        foreach (Action<IServiceProvider, NpgsqlDataSourceBuilder> action in actions)
        {
            action(services, dataSource);
        }

        return new NpgsqlConnectionPool(dataSource, rest, loggerFactory, services.GetService<IMeterFactory>(), services.GetService<TimeProvider>());
    }
}
