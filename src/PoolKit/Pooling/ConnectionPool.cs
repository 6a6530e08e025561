using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <summary>
/// A bounded, lock-free pool of expensive resources, with FIFO hand-off to waiters, validation, idle and
/// lifetime pruning, warm-up to a minimum, metrics and clean disposal.
/// </summary>
/// <typeparam name="T">The pooled resource type.</typeparam>
/// <remarks>
/// <para><b>Algorithm.</b> Resources live in a fixed array of <see cref="ConnectionPoolOptions.MaxSize"/>
/// slots (slot objects are allocated on first use, the array never grows). Each slot carries its own state
/// (<see cref="SlotState"/>) and its lease version packed into one word, changed only by CAS. Acquiring tries the slot
/// published idle last (<see cref="_idleHint"/>), then scans the allocated slots from index 0, and wins an <c>Idle</c>
/// slot with a CAS <c>Idle → Leased</c>; the slots in use therefore stay hot and the others cool down and get pruned. A return first ends the lease by advancing
/// the version (<c>(v, Leased) → (v + 1, Leased)</c>, so a second return fails), then resets the resource and
/// <i>releases</i> the slot: to the longest waiter if anybody waits, else as <c>Idle</c>; when the policy resets
/// nothing (<see cref="PolicyTraits{T}"/>) and nobody waits, both happen in one CAS <c>(v, Leased) → (v + 1, Idle)</c>.
/// There is no lock on the rent/return path; the wait queue has one, taken only when somebody waits.</para>
/// <para><b>Creations belong to the pool, not to an acquirer.</b> A creation reserves capacity first (<see cref="_live"/>
/// by CAS, then a CAS <c>Empty → Creating</c> on a slot), so the bound holds at every instant. When it completes, the new
/// resource is released exactly like a returned one: to the head of the queue, or idle if nobody waits any more. So a
/// waiter takes whichever comes first, a returned resource or a new one, and a creation nobody needs any more simply goes
/// idle; a waiter's deadline and cancellation are its own and are never extended by a creation (it fails on time,
/// the creation finishes in the background, bounded by <see cref="ConnectionPoolOptions.AcquireTimeout"/>). The one
/// exception is an acquirer that finds nobody waiting and nothing on its way: it creates itself and, if the creation
/// completes synchronously, keeps the resource without queueing; otherwise it queues like everybody else.</para>
/// <para><b>No surplus creation.</b> What is on its way to the waiters is counted: a creation in flight in
/// <see cref="_creating"/>; in <see cref="_returning"/>, a resource whose asynchronous reset (or background validation)
/// still runs, and an idle slot that a scan for waiters holds <i>in transit</i> between winning it and handing it over
/// (or putting it back when nobody waits any more). A creation starts only when <c>waiting &gt; returning + creating</c>,
/// that is when the resources already on their way cannot serve every waiter; idle resources are handed to waiters
/// before anybody creates (by the hand-off protocol, and by <see cref="StartCreationsForWaiters()"/> itself, for a waiter
/// that enqueued next to a slot published a moment ago and has not rescanned yet).
/// So a sequential caller never creates because of its own previous lease, and N callers never cause more than N
/// resources. <see cref="StartCreationsForWaiters()"/> makes that decision. It is reached from <i>one</i> routine per kind
/// of event, and every path that frees capacity or ends something on its way ends in one of them:
/// <see cref="OfferFreedRoom"/> (a slot became <c>Empty</c>: a destruction ended or was abandoned, a creation failed) and
/// <see cref="EndOnItsWay"/> (a creation's permit given back, a reset's or validation's tail, a transit that ended);
/// besides, a newcomer runs it after it enqueued (demand rose) and the queue's timer when the back-off ends. Nothing
/// that held the decision back ends without running it again.</para>
/// <para><b>Why the decision is never made on stale counts.</b> Everything on its way is released first (handed to the
/// head, or published idle), then counted ended (<see cref="_endedOnItsWay"/>, a number that only grows), then
/// uncounted. A decision reads <see cref="_endedOnItsWay"/> before it looks at the slots, the supply counters after
/// the look and the waiter count last, and takes its creation permit by a CAS from exactly the count it read, given back
/// if anything ended since the first read (<see cref="TryReserve"/>). So whatever it does not count is either already
/// released (its slot seen idle, its waiter already dequeued) or ended after the decision began, which it notices. A
/// transit is counted <i>before</i> it wins its slot: a look that finds the slot taken finds the transit counted
/// afterwards. A newcomer creating for itself reads the counters before its scan and <c>_returning</c> again after it,
/// for the same reason.</para>
/// <para><b>Creation failures and the back-off.</b> A failed creation starts a back-off (exponential, jittered) and is
/// reported to one waiter, the longest; when nothing is left that could serve the queue (<c>live == 0</c>) every waiter
/// fails with it at once. Within <see cref="ConnectionPoolOptions.CreationBackoffInitial"/> of a failure nobody creates
/// and nobody fails with the old error: acquirers queue, and then one attempt starts for them (one at a time while
/// creations keep failing), so a server that has just come back (a failover's new primary) is tried within that delay
/// while acquirers ask. The exponential back-off (up to <see cref="ConnectionPoolOptions.CreationBackoffMax"/>) paces
/// the attempts nobody waits for (the refill to MinSize), and a failure retrying cannot fix holds everybody back for
/// all of it. So no acquire fails with an error older than the attempt that ended after it began, callers learn of an
/// outage within the initial delay plus one attempt, and the server sees one attempt at a time, at most one per
/// initial delay, and none while nobody asks.</para>
/// <para><b>One gate.</b> Every hand-out, to an acquirer scanning the slots or to a waiter, goes through
/// <see cref="CheckOnHandOut"/> (disposal, generation, lifetime, <see cref="IResourcePolicy{T}.IsUsable"/>) and then
/// through the validation window; see <c>ConnectionPool.HandOff.cs</c>, which also holds the lost-wake-up proof.</para>
/// <para><b>Shared state and invariants.</b>
/// <list type="bullet">
/// <item><see cref="_slots"/>: written once per index (slot allocation, after winning <see cref="_allocated"/> by CAS); each slot's state by CAS (see <see cref="Slot{T}"/>). Replaced only by a larger array holding the same slots when <see cref="Resize"/> grows MaxSize (see <c>ConnectionPool.Sizing.cs</c>).</item>
/// <item><see cref="_allocated"/>: the number of slot objects allocated; grows by CAS, never above MaxSize.</item>
/// <item><see cref="_live"/>: CAS/Interlocked; +1 <i>before</i> a slot leaves <c>Empty</c>, −1 <i>after</i> it is <c>Empty</c> again, so
/// <c>non-empty slots ≤ live ≤ MaxSize</c> at every instant and <c>live = idle + leased + creating + destroying</c> when quiet.</item>
/// <item><see cref="_creating"/>: CAS/Interlocked; creations in flight, ≤ MaxConcurrentCreations (1 while creations keep failing); −1 only after the new resource was released (<see cref="EndOnItsWay"/>).</item>
/// <item><see cref="_returning"/>: Interlocked; owned slots whose asynchronous reset or background validation runs, and idle slots held in transit by a scan for waiters (+1 before the slot is won); −1 only after the slot was released, put back or its destruction began (<see cref="EndOnItsWay"/>).</item>
/// <item><see cref="_endedOnItsWay"/>: Interlocked; grows (and wraps) by one each time something counted in <see cref="_creating"/> or <see cref="_returning"/> ends, just before it is uncounted.</item>
/// <item><see cref="_idleHint"/>: Volatile; a hint only (the index of the slot published idle last), never trusted without the CAS.</item>
/// <item><see cref="_generation"/>: Interlocked; advanced by <see cref="ClearAsync"/>. A resource of an older generation is destroyed instead of being handed out or kept.</item>
/// <item><see cref="_disposed"/>: set once by Interlocked.Exchange; read before publishing a slot as idle and again after, so no resource is left idle in a disposed pool.</item>
/// <item>The totals (<c>_total*</c>, <see cref="_destroyedBy"/>): Interlocked, off the uncontended path; the number of leases is a per-slot count written by the slot's owner.</item>
/// </list></para>
/// <para><b>FIFO and conservation.</b> Waiters are served in arrival order: every released resource goes to the head of
/// the queue and a newcomer never scans or creates while anybody waits. A waiter is only ever handed a resource it can
/// use at once: one idle beyond the validation window is validated by the pool before the hand-off (and released to the
/// head when that validation ends), so a waiter never validates, never fails a validation and never re-enters the
/// queue. Every resource is, at any instant, in exactly one place (a slot's state says which), and a waiter is
/// completed by exactly one party (<see cref="Waiter{T}"/>'s CAS): a resource offered to a waiter that was completed
/// meanwhile goes to the next one, or back to idle.</para>
/// <para><b>The waiter is the acquirer's task.</b> A waiting <see cref="AcquireAsync(CancellationToken)"/> returns a
/// <see cref="ValueTask{TResult}"/> whose source is its <see cref="Waiter{T}"/>: the hand-off completes it with the slot
/// (on a thread-pool thread, never on the releaser's stack) and the caller's continuation runs straight from there;
/// <see cref="EndWait"/> turns the outcome into the lease or the exception when the caller takes the result, and
/// recycles the waiter. No async state machine sits between the two (PERF: one fewer state machine box and
/// continuation per contended acquire).</para>
/// <para><b>Clocks.</b> The rent/return path reads a cached millisecond tick (<see cref="PoolClock.Cached"/>,
/// <see cref="TickCache"/>: a field, behind the exact tick by about 10 ms at most), which is ample for the validation
/// window, lifetimes and idle times; deadlines and timers read the exact clock. A validation window shorter than
/// <see cref="PoolClock.PreciseBelow"/> (100 ms, zero excepted) is measured with the precise clock instead. With an injected
/// <see cref="TimeProvider"/> both are that provider's.</para>
/// </remarks>
public sealed partial class ConnectionPool<T> : IConnectionPool<T>
    where T : class
{
    private readonly IResourcePolicy<T> _policy;
    private readonly PolicyTraits<T> _traits;
    private readonly ConnectionPoolOptions _options;
    private readonly TimeProvider _time;
    private readonly PoolClock _clock;
    private readonly ILogger _logger;
    private readonly PoolMetrics _metrics;
    private readonly WaiterQueue<T> _waiters;
    private readonly CreationBackoff _backoff;
    private Slot<T>?[] _slots;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer _maintenanceTimer;

    // Durations converted once to TimeProvider timestamp units; long.MaxValue means "never".
    private readonly long _acquireTimeoutTicks;
    private readonly long _bypassTicks;
    private readonly long _lifetimeTicks;
    private readonly long _lifetimeJitterTicks;
    private readonly long _idleTimeoutTicks;
    private readonly long _leakTicks;

    private int _allocated;
    private int _live;
    private int _creating;

    /// <summary>
    /// How many things on their way to the waiters ever ended (wraps): creation permits given back, resets and
    /// validations that ended, transits that ended. Lets a decision tell supply that ended while it looked (or a count
    /// that went down and up again, ABA) from supply that did not move (see <see cref="TryReserve"/>).
    /// </summary>
    private int _endedOnItsWay;
    private int _returning;

    /// <summary>The index of the slot published as idle last: a hint for the next scan, written racily (see <c>NoteIdle</c>).</summary>
    private int _idleHint;
    private int _generation;
    private int _disposed;
    private int _maintenanceRunning;
    private int _maintenanceRequested;

    private long _totalCreated;
    private long _totalDestroyed;
    private long _totalCreationFailures;
    private long _totalTimeouts;
    private long _totalCanceled;
    private long _totalRejected;
    private long _totalAbandoned;
    private int _abandonedRunning;

    /// <summary>
    /// Completed and replaced (by exchange) each time a unit of the abandonment budget is given back, so that work the
    /// pool waits out because the budget was spent looks again (see <see cref="WaitOutOrTakeAbandonBudgetAsync"/>).
    /// </summary>
    private TaskCompletionSource? _abandonBudgetFreed;

    /// <summary>Destroyed resources by <see cref="DestroyReason"/> (index); Interlocked.</summary>
    private readonly long[] _destroyedBy = new long[DestroyReasons.Count];

    /// <summary>Creates a pool and starts warming it up to <see cref="ConnectionPoolOptions.MinSize"/> in the background.</summary>
    /// <param name="policy">Creates, checks, resets and destroys the resources.</param>
    /// <param name="options">The settings; copied and validated here, later changes have no effect.</param>
    /// <param name="loggerFactory">Where the pool logs; none by default.</param>
    /// <param name="meterFactory">Creates the pool's meter (dependency injection); by default the pool owns a <see cref="Meter"/> named <see cref="PoolKitTelemetry.MeterName"/>.</param>
    /// <param name="timeProvider">The clock and timers; <see cref="TimeProvider.System"/> by default.</param>
    /// <exception cref="ArgumentNullException"><paramref name="policy"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ConnectionPoolOptionsException">An option is invalid; the message lists every violation.</exception>
    public ConnectionPool(
        IResourcePolicy<T> policy,
        ConnectionPoolOptions options,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(options);
        options = options.Clone();
        options.ThrowIfInvalid();

        _policy = policy;
        _traits = PolicyTraits<T>.Of(policy);
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        // A validation window the cached millisecond tick cannot measure (it is up to ~10 ms old, and the tick itself
        // coarse) is measured with the precise clock.
        TimeSpan window = options.ValidationBypassWindow;
        _clock = new PoolClock(_time, precise: window > TimeSpan.Zero && window < PoolClock.PreciseBelow);
        _logger = loggerFactory?.CreateLogger("PoolKit.ConnectionPool") ?? NullLogger.Instance;
        _slots = new Slot<T>?[options.MaxSize];
        _waiters = new WaiterQueue<T>(_time, _clock, StartCreationsForWaiters);
        _backoff = new CreationBackoff(_clock, options.CreationBackoffInitial, options.CreationBackoffMax);

        _acquireTimeoutTicks = ToTicks(options.AcquireTimeout);
        _bypassTicks = ToTicks(options.ValidationBypassWindow);
        _lifetimeTicks = ToTicks(options.MaxLifetime);
        _lifetimeJitterTicks = _lifetimeTicks == long.MaxValue ? 0 : ToTicks(options.MaxLifetimeJitter ?? options.MaxLifetime / 10);
        _idleTimeoutTicks = ToTicks(options.IdleTimeout);
        _leakTicks = options.LeakDetectionThreshold is { } leak ? ToTicks(leak) : long.MaxValue;
        InitializeShedding();

        _metrics = new PoolMetrics(options.Name, meterFactory, () => IsDisposed ? null : GetStatistics());
        _logger.PoolCreated(options.Name, options.MinSize, options.MaxSize, options.AcquireTimeout);

        // The maintenance timer fires at once when there is a minimum to warm up to. Created last: with a
        // fake clock a due-now timer may run its callback inside CreateTimer, and everything must be ready.
        using (ExecutionContext.SuppressFlow())
        {
            _maintenanceTimer = _time.CreateTimer(
                static s => ((ConnectionPool<T>)s!).RequestMaintenance(),
                this,
                options.MinSize > 0 ? TimeSpan.Zero : options.MaintenanceInterval,
                options.MaintenanceInterval);
        }
    }

    /// <inheritdoc />
    public string Name => _options.Name;

    /// <summary>Gets a copy of the options the pool runs with.</summary>
    public ConnectionPoolOptions Options => _options.Clone();

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <inheritdoc />
    public override string ToString() => $"ConnectionPool<{typeof(T).Name}> '{Name}' (max {_options.MaxSize})";

    private long ToTicks(TimeSpan span) => _clock.ToTicks(span);

    private TimeSpan Elapsed(long start, long end) => _clock.Elapsed(start, end);
}
