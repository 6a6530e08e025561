using System.Globalization;
using PoolKit.Internal;

namespace PoolKit;

/// <summary>
/// Settings of a <see cref="ConnectionPool{T}"/>. The pool takes a snapshot at construction and validates it
/// there: every invalid value is reported at once, naming the option, the value and the rule. Nothing is
/// clamped silently.
/// </summary>
public sealed class ConnectionPoolOptions
{
    /// <summary>The largest <see cref="MaxSize"/> the slot array accepts.</summary>
    /// <remarks>The slot array is sized to <see cref="MaxSize"/> up front (one reference per slot); slots themselves are allocated on first use.</remarks>
    public const int MaxSizeLimit = 65_536;

    /// <summary>Gets or sets the pool's name, used in logs, metrics tags and error messages.</summary>
    /// <value>Default: <c>"default"</c>. Must not be empty.</value>
    public string Name { get; set; } = "default";

    /// <summary>Gets or sets the number of resources the pool creates in the background after construction and keeps alive.</summary>
    /// <value>Default: 0. Between 0 and <see cref="MaxSize"/>.</value>
    public int MinSize { get; set; }

    /// <summary>Gets or sets the most live resources (idle, leased, being created or destroyed) the pool ever holds.</summary>
    /// <value>Default: 100. Between 1 and <see cref="MaxSizeLimit"/>.</value>
    public int MaxSize { get; set; } = 100;

    /// <summary>
    /// Gets or sets how long an acquire may wait for a resource, including the time to create one. It is also the
    /// bound of each creation: its token is canceled then, and a creation that ignores it is abandoned a tenth of it
    /// later (at most one second), within the abandonment budget described on <see cref="IConnectionPool{T}"/>.
    /// </summary>
    /// <value>Default: 15 seconds. Positive, or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan AcquireTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Gets or sets how many acquirers may wait at once; one more fails at once with <see cref="PoolExhaustedException"/>.</summary>
    /// <value>Default: <see langword="null"/> (unbounded). At least 0 when set.</value>
    public int? MaxWaiters { get; set; }

    /// <summary>
    /// Gets or sets how long a resource may sit idle and still be handed out without
    /// <see cref="IResourcePolicy{T}.ValidateAsync"/>. The cheap <see cref="IResourcePolicy{T}.IsUsable"/> check always runs.
    /// </summary>
    /// <value>Default: 500 milliseconds. Zero validates every hand-out; <see cref="Timeout.InfiniteTimeSpan"/> never validates. A window shorter than 100 ms is honoured exactly, with the precise clock read on every rent and return (about 20–30 ns each); longer ones are measured with a millisecond tick cached every 10 ms.</value>
    public TimeSpan ValidationBypassWindow { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Gets or sets the longest a single validation may take before the resource is considered broken.</summary>
    /// <value>Default: 5 seconds. Positive.</value>
    public TimeSpan ValidationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Gets or sets the longest an asynchronous <see cref="IResourcePolicy{T}.ResetAsync"/> may run. Its token is
    /// canceled then and the resource destroyed; a reset that ignores its token is abandoned shortly after (a tenth of
    /// this, at most one second): its slot is freed, and the resource destroyed when the reset finally ends (within the
    /// abandonment budget described on <see cref="IConnectionPool{T}"/>; beyond it the pool waits for the reset).
    /// </summary>
    /// <value>Default: 10 seconds. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> for no bound.</value>
    public TimeSpan ResetTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets the longest the pool waits for <see cref="IResourcePolicy{T}.DestroyAsync"/>; a destruction still
    /// running then is abandoned (logged and counted in <see cref="PoolStatistics.TotalAbandoned"/>) and its slot freed,
    /// within the abandonment budget described on <see cref="IConnectionPool{T}"/> (beyond it the pool waits).
    /// </summary>
    /// <value>Default: 10 seconds. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> for no bound.</value>
    public TimeSpan DestroyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Gets or sets how long a resource may live; older ones are destroyed when idle or when returned.</summary>
    /// <value>Default: 30 minutes. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</value>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// Gets or sets the largest random amount subtracted from <see cref="MaxLifetime"/> for each resource, so
    /// resources created together do not expire together.
    /// </summary>
    /// <value>Default: <see langword="null"/>, meaning 10% of <see cref="MaxLifetime"/>. Zero or positive, and less than <see cref="MaxLifetime"/>.</value>
    public TimeSpan? MaxLifetimeJitter { get; set; }

    /// <summary>Gets or sets how long a resource may stay idle before it is destroyed, as long as the pool stays at or above <see cref="MinSize"/>.</summary>
    /// <value>Default: 5 minutes. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> to never prune.</value>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets how often the maintenance loop prunes idle and expired resources and tops the pool up to <see cref="MinSize"/>.</summary>
    /// <value>Default: 1 second. Positive.</value>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets how many resources may be created at the same time, so a cold start cannot open <see cref="MaxSize"/> connections at once.</summary>
    /// <value>Default: 2. At least 1.</value>
    public int MaxConcurrentCreations { get; set; } = 2;

    /// <summary>
    /// Gets or sets the pause after the first failed creation before the next attempt; it doubles with each consecutive
    /// failure, with jitter, for the attempts nobody waits for (the refill to <see cref="MinSize"/>). Acquirers that ask
    /// meanwhile get one attempt per this delay (unless the last failure was one retrying cannot fix), so a server that
    /// comes back is tried within it.
    /// </summary>
    /// <value>Default: 100 milliseconds. Positive.</value>
    public TimeSpan CreationBackoffInitial { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Gets or sets the longest pause between creation attempts nobody waits for while creations keep failing (see <see cref="CreationBackoffInitial"/>).</summary>
    /// <value>Default: 2 seconds. At least <see cref="CreationBackoffInitial"/>.</value>
    public TimeSpan CreationBackoffMax { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Gets or sets the hold time after which a lease is reported as a suspected leak (a warning log). When set,
    /// the pool also records where each lease was acquired, which costs a stack trace per acquire.
    /// </summary>
    /// <value>Default: <see langword="null"/> (off). Positive when set.</value>
    public TimeSpan? LeakDetectionThreshold { get; set; }

    /// <summary>
    /// Gets or sets the queue-time target that turns shedding on: an acquire that would have to queue and, by the
    /// pool's estimate, would wait longer than this (or than its own deadline allows) fails at once with
    /// <see cref="PoolExhaustedException"/> (<see cref="PoolExhaustedReason.Shed"/>) instead of waiting out its timeout.
    /// The estimate is the acquirer's position in the queue times the observed interval between two waiters served
    /// while the queue was busy; until 8 such intervals were seen, nothing is shed. Acquires that are served keep
    /// their waits near the target: a queue longer than the target allows is not let form.
    /// </summary>
    /// <value>Default: <see langword="null"/> (off: acquirers wait up to <see cref="AcquireTimeout"/>). Positive when set.</value>
    public TimeSpan? QueueTimeTarget { get; set; }

    /// <summary>
    /// Gets or sets whether a waiter causes a creation only when, by the pool's estimates, it would wait longer than a
    /// creation takes: while acquirers queue, the returns alone serve about <c>creation time ÷ service interval</c> of
    /// them before a new resource could arrive, so only the waiters beyond those get a creation. This keeps a short
    /// spike from growing the pool; under steady load it may keep the pool a resource or two below the number of
    /// concurrent callers, which costs throughput when the server has room (measured: 0.84-0.88x of Npgsql's pool at 8
    /// callers with it on, 1.00-1.09x with it off), so it is off by default.
    /// </summary>
    /// <value>Default: <see langword="false"/> (every creation the demand justifies starts).</value>
    public bool CreateOnlyWhenItHelps { get; set; }

    /// <summary>Gets or sets how long <see cref="ConnectionPool{T}.DisposeAsync"/> waits for outstanding leases to come back.</summary>
    /// <value>Default: 5 seconds. Zero or positive, or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan DisposeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Creates an independent copy of these options.</summary>
    /// <returns>The copy.</returns>
    public ConnectionPoolOptions Clone() => (ConnectionPoolOptions)MemberwiseClone();

    /// <summary>Checks every rule and returns one message per violation, each naming the option, its value and the rule.</summary>
    /// <returns>The violations; empty when the options are valid.</returns>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();

        if (string.IsNullOrWhiteSpace(Name))
        {
            errors.Add(OptionErrors.Describe(nameof(Name), $"'{Name}'", "must not be empty"));
        }

        if (MaxSize < 1 || MaxSize > MaxSizeLimit)
        {
            errors.Add(OptionErrors.Describe(nameof(MaxSize), MaxSize, $"must be between 1 and {MaxSizeLimit.ToString(CultureInfo.InvariantCulture)} (ConnectionPoolOptions.MaxSizeLimit)"));
        }

        if (MinSize < 0 || MinSize > MaxSize)
        {
            errors.Add(OptionErrors.Describe(nameof(MinSize), MinSize, $"must be between 0 and MaxSize ({MaxSize.ToString(CultureInfo.InvariantCulture)})"));
        }

        RequirePositiveOrInfinite(errors, nameof(AcquireTimeout), AcquireTimeout);

        if (QueueTimeTarget is { } queueTimeTarget && queueTimeTarget <= TimeSpan.Zero)
        {
            errors.Add(OptionErrors.Describe(nameof(QueueTimeTarget), queueTimeTarget, "must be positive, or null for no shedding"));
        }

        if (MaxWaiters is < 0)
        {
            errors.Add(OptionErrors.Describe(nameof(MaxWaiters), MaxWaiters.Value, "must be 0 or more, or null for no limit"));
        }

        if (ValidationBypassWindow < TimeSpan.Zero && ValidationBypassWindow != Timeout.InfiniteTimeSpan)
        {
            errors.Add(OptionErrors.Describe(nameof(ValidationBypassWindow), ValidationBypassWindow, "must be zero or positive, or Timeout.InfiniteTimeSpan"));
        }

        RequirePositive(errors, nameof(ValidationTimeout), ValidationTimeout);
        RequirePositiveOrInfinite(errors, nameof(ResetTimeout), ResetTimeout);
        RequirePositiveOrInfinite(errors, nameof(DestroyTimeout), DestroyTimeout);
        RequirePositiveOrInfinite(errors, nameof(MaxLifetime), MaxLifetime);

        if (MaxLifetimeJitter is { } jitter)
        {
            if (jitter < TimeSpan.Zero)
            {
                errors.Add(OptionErrors.Describe(nameof(MaxLifetimeJitter), jitter, "must be zero or positive"));
            }
            else if (MaxLifetime != Timeout.InfiniteTimeSpan && MaxLifetime > TimeSpan.Zero && jitter >= MaxLifetime)
            {
                errors.Add(OptionErrors.Describe(nameof(MaxLifetimeJitter), jitter, $"must be less than MaxLifetime ({MaxLifetime})"));
            }
        }

        RequirePositiveOrInfinite(errors, nameof(IdleTimeout), IdleTimeout);
        RequirePositive(errors, nameof(MaintenanceInterval), MaintenanceInterval);

        if (MaxConcurrentCreations < 1)
        {
            errors.Add(OptionErrors.Describe(nameof(MaxConcurrentCreations), MaxConcurrentCreations, "must be at least 1"));
        }

        RequirePositive(errors, nameof(CreationBackoffInitial), CreationBackoffInitial);
        RequirePositive(errors, nameof(CreationBackoffMax), CreationBackoffMax);
        if (CreationBackoffMax > TimeSpan.Zero && CreationBackoffInitial > TimeSpan.Zero && CreationBackoffMax < CreationBackoffInitial)
        {
            errors.Add(OptionErrors.Describe(nameof(CreationBackoffMax), CreationBackoffMax, $"must be at least CreationBackoffInitial ({CreationBackoffInitial})"));
        }

        if (LeakDetectionThreshold is { } leak && leak <= TimeSpan.Zero)
        {
            errors.Add(OptionErrors.Describe(nameof(LeakDetectionThreshold), leak, "must be positive, or null to turn leak detection off"));
        }

        if (DisposeTimeout < TimeSpan.Zero && DisposeTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add(OptionErrors.Describe(nameof(DisposeTimeout), DisposeTimeout, "must be zero or positive, or Timeout.InfiniteTimeSpan"));
        }

        return errors;
    }

    /// <summary>Throws when any rule is violated.</summary>
    /// <exception cref="ConnectionPoolOptionsException">One or more options are invalid; the message lists them all.</exception>
    public void ThrowIfInvalid()
    {
        IReadOnlyList<string> errors = Validate();
        if (errors.Count > 0)
        {
            throw new ConnectionPoolOptionsException(errors);
        }
    }

    private static void RequirePositive(List<string> errors, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add(OptionErrors.Describe(name, value, "must be positive"));
        }
    }

    private static void RequirePositiveOrInfinite(List<string> errors, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
        {
            errors.Add(OptionErrors.Describe(name, value, "must be positive, or Timeout.InfiniteTimeSpan"));
        }
    }
}
