namespace PoolKit.Internal;

/// <summary>The state of one <see cref="Slot{T}"/>. See <see cref="Slot{T}"/> for who may move a slot between states.</summary>
internal enum SlotState
{
    /// <summary>No resource; free to be reserved for a creation.</summary>
    Empty = 0,

    /// <summary>Reserved; its creator is creating the resource. Counts against MaxSize.</summary>
    Creating = 1,

    /// <summary>Holds a resource ready to be handed out.</summary>
    Idle = 2,

    /// <summary>Owned by exactly one party: a lease holder, a returner resetting it, an acquirer validating it, or maintenance.</summary>
    Leased = 3,

    /// <summary>Its owner is destroying the resource. Counts against MaxSize until the destruction completes.</summary>
    Destroying = 4,
}
