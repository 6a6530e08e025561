using System.Diagnostics;
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
/// (<see cref="SlotState"/>) and its lease version packed into one word, changed only by CAS. Acquiring scans the
/// allocated slots from index 0 and wins the first <c>Idle</c> slot with a CAS <c>Idle → Leased</c>; low indices
/// therefore stay hot and high
/// indices cool down and get pruned first. Returning makes the slot <c>Idle</c> again, unless somebody waits:
/// then the slot is handed, still leased, directly to the longest waiter. A return first ends the lease by
/// advancing the version (<c>(v, Leased) → (v + 1, Leased)</c>, so a second return fails), then resets and publishes;
/// when the policy resets nothing (<see cref="PolicyTraits{T}"/>) and nobody waits, both happen in one CAS
/// <c>(v, Leased) → (v + 1, Idle)</c>. Creating starts with a reservation:
/// a CAS <c>Empty → Creating</c> on a slot, made before the resource exists and undone if creation fails, so
/// the bound holds at every instant. There is no lock on the rent/return path; the wait queue has one,
/// taken only when somebody waits.</para>
/// <para><b>Shared state and invariants.</b>
/// <list type="bullet">
/// <item><see cref="_slots"/>: written once per index (slot allocation, after winning <see cref="_allocated"/> by CAS); each slot's state by CAS (see <see cref="Slot{T}"/>).</item>
/// <item><see cref="_allocated"/>: the number of slot objects allocated; grows by CAS, never above MaxSize.</item>
/// <item><see cref="_live"/>: Interlocked; +1 when a slot is reserved, −1 when it becomes <c>Empty</c> again. It equals the number of non-<c>Empty</c> slots whenever no transition is in flight, so
/// <c>live = idle + leased + creating + destroying ≤ MaxSize</c>.</item>
/// <item><see cref="_creating"/>: Interlocked; creations in flight, ≤ MaxConcurrentCreations.</item>
/// <item><see cref="_generation"/>: Interlocked; advanced by <see cref="ClearAsync"/>. A resource of an older generation is destroyed instead of being handed out or kept.</item>
/// <item><see cref="_disposed"/>: set once by Interlocked.Exchange; read before publishing a slot as idle and again after, so no resource is left idle in a disposed pool.</item>
/// </list></para>
/// <para><b>No lost wake-ups.</b> A returner that finds nobody waiting publishes its slot as <c>Idle</c> with a
/// full fence (the publishing CAS, in either return path) and then reads the waiter count again; an acquirer that
/// must wait enqueues itself (under the queue lock, a full fence) and then scans the slots again. Whatever the interleaving, one of the two sees
/// the other. Capacity events (a slot emptied, a creation finished, a back-off ended) wake the head waiter to
/// re-check; a woken waiter that still finds nothing re-enqueues at the head and keeps its turn.</para>
/// <para><b>No barging.</b> While anybody waits, a new acquirer does not scan or create; it queues behind.</para>
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
    private readonly Slot<T>?[] _slots;
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
    private int _generation;
    private int _disposed;
    private int _maintenanceRunning;
    private int _maintenanceRequested;

    /// <summary>Test seam: runs just before a waiter enqueues itself (forces the "returned while enqueueing" interleaving).</summary>
    internal Action? TestHookBeforeEnqueue;

    /// <summary>Test seam: runs after a returner found nobody waiting and before it publishes the slot as idle.</summary>
    internal Action? TestHookBeforePublishIdle;

    private long _totalCreated;
    private long _totalDestroyed;
    private long _totalCreationFailures;
    private long _totalTimeouts;

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
        _clock = new PoolClock(_time);
        _logger = loggerFactory?.CreateLogger("PoolKit.ConnectionPool") ?? NullLogger.Instance;
        _slots = new Slot<T>?[options.MaxSize];
        _waiters = new WaiterQueue<T>(_time, _clock);
        _backoff = new CreationBackoff(_clock, options.CreationBackoffInitial, options.CreationBackoffMax);

        _acquireTimeoutTicks = ToTicks(options.AcquireTimeout);
        _bypassTicks = ToTicks(options.ValidationBypassWindow);
        _lifetimeTicks = ToTicks(options.MaxLifetime);
        _lifetimeJitterTicks = _lifetimeTicks == long.MaxValue ? 0 : ToTicks(options.MaxLifetimeJitter ?? options.MaxLifetime / 10);
        _idleTimeoutTicks = ToTicks(options.IdleTimeout);
        _leakTicks = options.LeakDetectionThreshold is { } leak ? ToTicks(leak) : long.MaxValue;

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
    public PoolStatistics GetStatistics()
    {
        int idle = 0, leased = 0, creating = 0, destroying = 0;
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            switch (Volatile.Read(ref slots[i])?.CurrentState)
            {
                case SlotState.Idle: idle++; break;
                case SlotState.Leased: leased++; break;
                case SlotState.Creating: creating++; break;
                case SlotState.Destroying: destroying++; break;
                default: break;
            }
        }

        return new PoolStatistics(
            idle,
            leased,
            creating,
            destroying,
            _waiters.Count,
            _options.MinSize,
            _options.MaxSize,
            Interlocked.Read(ref _totalCreated),
            Interlocked.Read(ref _totalDestroyed),
            Interlocked.Read(ref _totalCreationFailures),
            Interlocked.Read(ref _totalTimeouts));
    }

    /// <inheritdoc />
    public override string ToString() => $"ConnectionPool<{typeof(T).Name}> '{Name}' (max {_options.MaxSize})";

    /// <summary>
    /// Checks the slot array's invariants. Exact only when the pool is quiet (no acquire, return, creation or
    /// destruction in flight); tests call it at such points, debug builds call it where it must hold anyway.
    /// </summary>
    internal void AssertInvariantsQuiescent()
    {
        PoolStatistics s = GetStatistics();
        int live = Volatile.Read(ref _live);
        Check(live == s.Live, $"_live ({live}) equals the non-empty slots ({s.Live})");
        Check(s.Live <= _options.MaxSize, $"live ({s.Live}) <= MaxSize ({_options.MaxSize})");
        Check(Volatile.Read(ref _creating) == s.Creating, $"_creating ({_creating}) equals the creating slots ({s.Creating})");
        Check(Volatile.Read(ref _allocated) <= _options.MaxSize, "allocated slots <= MaxSize");
        for (int i = 0; i < Volatile.Read(ref _allocated); i++)
        {
            if (Volatile.Read(ref _slots[i]) is { } slot)
            {
                SlotState state = slot.CurrentState;
                Check((state is SlotState.Idle or SlotState.Leased) == (slot.Resource is not null), $"slot {i} in state {state} holds a resource only when idle or leased");
            }
        }

        static void Check(bool condition, string what)
        {
            if (!condition)
            {
                ThrowHelper.ThrowBug($"invariant violated: {what}");
            }
        }
    }

    [Conditional("DEBUG")]
    private void AssertCountersInRange()
    {
        int live = Volatile.Read(ref _live);
        int creating = Volatile.Read(ref _creating);
        Debug.Assert(live >= 0 && live <= _options.MaxSize, $"0 <= live ({live}) <= MaxSize");
        Debug.Assert(creating >= 0 && creating <= _options.MaxConcurrentCreations, $"0 <= creating ({creating}) <= MaxConcurrentCreations");
    }

    private long ToTicks(TimeSpan span) => _clock.ToTicks(span);

    private TimeSpan Elapsed(long start, long end) => _clock.Elapsed(start, end);
}
