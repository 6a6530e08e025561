using Npgsql;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>
/// The <see cref="NpgsqlDataSourceBuilder"/> callbacks registered for one named pool (named options, the pool's name
/// as the options name), run in registration order when the pool is built.
/// </summary>
internal sealed class NpgsqlDataSourceConfiguration
{
    /// <summary>Gets the callbacks, in registration order.</summary>
    public List<Action<IServiceProvider, NpgsqlDataSourceBuilder>> Actions { get; } = [];
}
