#if DEBUG
namespace PoolKit;

/// <content>
/// Test seams, compiled into Debug builds only (so a Release rent/return loads none of them): each runs, when set, at
/// one point of the protocol where a test forces an interleaving (tests/PoolKit.Tests/Concurrency) or where the
/// exploration's scheduler may switch threads (tests/PoolKit.Tests/Exploration wires every <c>TestHook*</c> field).
/// </content>
public sealed partial class ConnectionPool<T>
{
    /// <summary>Test seam: runs just before a waiter enqueues itself (forces the "returned while enqueueing" interleaving).</summary>
    internal Action? TestHookBeforeEnqueue;

    /// <summary>Test seam: runs after a returner found nobody waiting and before it publishes the slot as idle.</summary>
    internal Action? TestHookBeforePublishIdle;

    /// <summary>Test seam: runs after a slot was published as idle and before the publisher reads the waiter count again.</summary>
    internal Action? TestHookAfterPublishIdle;

    /// <summary>Test seam: runs just after a waiter enqueued itself and before its rescan (step 2 of the proof).</summary>
    internal Action? TestHookAfterEnqueue;

    /// <summary>Test seam: runs when a scan on behalf of waiters (an acquirer's rescan, or the look before a creation) has won an idle slot, before it hands the slot to the head of the queue.</summary>
    internal Action? TestHookIdleSlotWonForWaiters;

    /// <summary>Test seam: runs when an acquirer that nobody waits before found nothing idle, just before it decides whether to create.</summary>
    internal Action? TestHookBeforeOwnCreation;

    /// <summary>Test seam: runs after an asynchronous reset or validation released its slot and before it stops counting as on its way.</summary>
    internal Action? TestHookBeforeCheckTail;

    /// <summary>Test seam: runs in <c>TryReserve</c> after a creation permit was taken and before the capacity is read.</summary>
    internal Action? TestHookAfterCreationPermit;

    /// <summary>Test seam: runs in <c>TryReserve</c> after the capacity was found full with a permit held, before the permit is given back.</summary>
    internal Action? TestHookBeforePermitGivenBack;
}
#endif
