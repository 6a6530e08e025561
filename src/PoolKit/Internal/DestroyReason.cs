namespace PoolKit.Internal;

/// <summary>Why the pool destroyed a resource (logged).</summary>
internal enum DestroyReason
{
    /// <summary>The lease holder marked it broken.</summary>
    Broken,

    /// <summary>The cheap usability check failed.</summary>
    Unusable,

    /// <summary>Validation failed or threw.</summary>
    ValidationFailed,

    /// <summary>Reset refused or threw.</summary>
    ResetFailed,

    /// <summary>It outlived MaxLifetime.</summary>
    Expired,

    /// <summary>It stayed idle longer than IdleTimeout.</summary>
    IdleTimeout,

    /// <summary>The pool was cleared.</summary>
    Cleared,

    /// <summary>The pool was disposed.</summary>
    PoolDisposed,
}
