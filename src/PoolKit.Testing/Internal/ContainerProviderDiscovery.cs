namespace PoolKit.Testing.Internal;

/// <summary>
/// Finds the container provider of the PoolKit.Testing.Containers package when the application references it, without
/// PoolKit.Testing depending on it: the package's assembly is loaded by name, and its provider type created.
/// </summary>
internal static class ContainerProviderDiscovery
{
    /// <summary>The assembly-qualified name of the provider that PoolKit.Testing.Containers ships.</summary>
    internal const string ProviderTypeName = "PoolKit.Testing.Containers.TestcontainersPostgresProvider, PoolKit.Testing.Containers";

    /// <summary>Returns the provider, or <see langword="null"/> with <paramref name="problem"/> set when the package is absent.</summary>
    internal static IPostgresContainerProvider? Find(out string? problem) => Find(ProviderTypeName, out problem);

    /// <summary>As <see cref="Find(out string?)"/>, for the provider type <paramref name="typeName"/> (tests name a missing one).</summary>
    internal static IPostgresContainerProvider? Find(string typeName, out string? problem)
    {
        Type? type;
        try
        {
            type = Type.GetType(typeName, throwOnError: false);
        }
        catch (Exception ex) when (ex is FileLoadException or BadImageFormatException)
        {
            problem = "PoolKit.Testing.Containers is referenced but could not be loaded (" + ex.GetType().Name + ")";
            return null;
        }

        if (type is null)
        {
            problem = "not used: the PoolKit.Testing.Containers package is not referenced (add it to start containers)";
            return null;
        }

        problem = null;
        return (IPostgresContainerProvider)Activator.CreateInstance(type)!;
    }
}
