using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace PoolKit.Internal;

/// <summary>Throw sites kept out of hot methods so those stay small enough to inline.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowBug(string what)
    {
        Debug.Fail(what);
        throw new InvalidOperationException($"PoolKit internal error (a bug, please report it): {what}.");
    }

    [DoesNotReturn]
    public static void ThrowDisposed(string poolName) =>
        throw new ObjectDisposedException($"ConnectionPool '{poolName}'", $"The connection pool '{poolName}' has been disposed.");

    [DoesNotReturn]
    public static void ThrowDefaultLease() =>
        throw new InvalidOperationException("This is the default (empty) lease: it holds no resource. Acquire a lease from a pool.");

    [DoesNotReturn]
    public static void ThrowAlreadyReturned(string poolName) => throw new LeaseAlreadyReturnedException(poolName);

    [DoesNotReturn]
    public static void ThrowTimeoutOutOfRange(string parameterName, TimeSpan value) =>
        throw new ArgumentOutOfRangeException(parameterName, value, $"The acquire timeout must be positive or Timeout.InfiniteTimeSpan (got {value}).");
}
