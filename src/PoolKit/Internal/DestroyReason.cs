namespace PoolKit.Internal;

/// <summary>Why the pool destroyed a resource (logged and counted, see <see cref="PoolDestroyedCounts"/>).</summary>
internal enum DestroyReason
{
    /// <summary>The lease holder marked it broken.</summary>
    Broken,

    /// <summary>The cheap usability check failed.</summary>
    Unusable,

    /// <summary>Validation failed, threw or timed out.</summary>
    ValidationFailed,

    /// <summary>Reset refused, threw or timed out.</summary>
    ResetFailed,

    /// <summary>It outlived MaxLifetime.</summary>
    Expired,

    /// <summary>It stayed idle longer than IdleTimeout.</summary>
    IdleTimeout,

    /// <summary>The pool was cleared.</summary>
    Cleared,

    /// <summary>The pool was disposed.</summary>
    PoolDisposed,

    /// <summary>The lease holder closed the resource itself (reported by an adapter through <see cref="PoolLease{T}.MarkClosedByCaller"/>).</summary>
    ClosedByCaller,

    /// <summary>The pool held more than MaxSize after <see cref="ConnectionPool{T}.Resize"/> shrank it.</summary>
    Resized,
}

/// <summary>Helpers for <see cref="DestroyReason"/>.</summary>
internal static class DestroyReasons
{
    /// <summary>The number of reasons (the size of a per-reason array).</summary>
    public const int Count = (int)DestroyReason.Resized + 1;
}
