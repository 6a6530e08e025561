using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace PoolKit.Internal;

/// <summary>
/// Which of <see cref="ResourcePolicy{T}"/>'s do-nothing defaults a policy keeps, so that the pool can skip calling them.
/// </summary>
/// <remarks>
/// PERF: a policy that keeps the default <see cref="ResourcePolicy{T}.ResetAsync"/> lets a return end the lease and
/// publish the slot in one CAS instead of two (nothing has to run between them); measured on the shared 2-core
/// machine in a standalone loop, this took the uncontended <c>TryAcquire</c>+<c>Dispose</c> cycle from 33 ns to 24 ns
/// (BenchmarkDotNet, with the smaller lease as well: 31.8 ns to 22.5 ns). The answer comes
/// from the interface map, so it is exact: it names the method an interface call dispatches to, including an
/// explicit re-implementation of <see cref="IResourcePolicy{T}"/>. Where reflection may be incomplete (no dynamic
/// code, as under Native AOT) or fails, every trait is <see langword="false"/> and the pool simply calls the policy.
/// </remarks>
/// <typeparam name="T">The pooled resource type.</typeparam>
internal readonly struct PolicyTraits<T>
    where T : class
{
    private PolicyTraits(bool resetsNothing, bool alwaysUsable, bool neverClosedByCaller)
    {
        ResetsNothing = resetsNothing;
        AlwaysUsable = alwaysUsable;
        NeverClosedByCaller = neverClosedByCaller;
    }

    /// <summary>Gets whether <see cref="IResourcePolicy{T}.ResetAsync"/> is <see cref="ResourcePolicy{T}"/>'s default, which returns <see langword="true"/> and does nothing.</summary>
    public bool ResetsNothing { get; }

    /// <summary>Gets whether <see cref="IResourcePolicy{T}.IsUsable"/> is <see cref="ResourcePolicy{T}"/>'s default, which returns <see langword="true"/>.</summary>
    public bool AlwaysUsable { get; }

    /// <summary>Gets whether <see cref="IResourcePolicy{T}.IsClosedByCaller"/> is <see cref="ResourcePolicy{T}"/>'s default, which returns <see langword="false"/>.</summary>
    public bool NeverClosedByCaller { get; }

    /// <summary>Inspects a policy once, at pool construction.</summary>
    [UnconditionalSuppressMessage(
        "Trimming",
        "IL2075",
        Justification = "The methods looked up implement an interface the pool calls, so they are kept; when metadata is missing anyway the lookup fails or dynamic code is off, and every trait is false (the safe answer).")]
    public static PolicyTraits<T> Of(IResourcePolicy<T> policy)
    {
        if (!RuntimeFeature.IsDynamicCodeSupported || policy is not ResourcePolicy<T>)
        {
            return default;
        }

        try
        {
            InterfaceMapping map = policy.GetType().GetInterfaceMap(typeof(IResourcePolicy<T>));
            bool resetsNothing = false, alwaysUsable = false, neverClosedByCaller = false;
            for (int i = 0; i < map.InterfaceMethods.Length; i++)
            {
                bool inherited = map.TargetMethods[i].DeclaringType == typeof(ResourcePolicy<T>);
                switch (map.InterfaceMethods[i].Name)
                {
                    case nameof(IResourcePolicy<T>.ResetAsync):
                        resetsNothing = inherited;
                        break;
                    case nameof(IResourcePolicy<T>.IsUsable):
                        alwaysUsable = inherited;
                        break;
                    case nameof(IResourcePolicy<T>.IsClosedByCaller):
                        neverClosedByCaller = inherited;
                        break;
                    default:
                        break;
                }
            }

            return new PolicyTraits<T>(resetsNothing, alwaysUsable, neverClosedByCaller);
        }
#pragma warning disable CA1031 // Any failure means "unknown", which is the safe answer.
        catch (Exception)
#pragma warning restore CA1031
        {
            return default;
        }
    }
}
