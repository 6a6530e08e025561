using System.Globalization;
using System.Text;

namespace PoolKit;

/// <summary>
/// Thrown when an acquire cannot get a resource in time, or cannot even wait because the wait queue is
/// full. The message names the setting to raise, the pool's counts, the last creation error and the
/// longest-held leases.
/// </summary>
/// <remarks>
/// This is a capacity problem of the application, not a transient database error: retrying it blindly
/// adds load to a pool that is already saturated. It deliberately derives from
/// <see cref="InvalidOperationException"/> and not from <see cref="TimeoutException"/> or a database
/// exception type.
/// </remarks>
public sealed class PoolExhaustedException : InvalidOperationException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="poolName">The pool's name.</param>
    /// <param name="reason">Why the acquire failed.</param>
    /// <param name="waited">How long the acquirer waited.</param>
    /// <param name="statistics">The pool's counts when the acquire failed.</param>
    /// <param name="longestHeld">The longest-held leases, longest first.</param>
    /// <param name="lastCreationError">The last error seen while creating a resource, if recent.</param>
    /// <param name="acquireTimeout">The configured acquire timeout.</param>
    /// <param name="maxWaiters">The configured wait-queue bound.</param>
    public PoolExhaustedException(
        string poolName,
        PoolExhaustedReason reason,
        TimeSpan waited,
        PoolStatistics statistics,
        IReadOnlyList<HeldLease> longestHeld,
        Exception? lastCreationError,
        TimeSpan acquireTimeout,
        int? maxWaiters)
        : base(BuildMessage(poolName, reason, waited, statistics, longestHeld, lastCreationError, acquireTimeout, maxWaiters), lastCreationError)
    {
        PoolName = poolName;
        Reason = reason;
        Waited = waited;
        Statistics = statistics;
        LongestHeldLeases = longestHeld;
    }

    /// <summary>Initializes a shed acquire's exception, whose message gives the pool's estimate.</summary>
    internal PoolExhaustedException(
        string poolName,
        PoolExhaustedReason reason,
        TimeSpan waited,
        PoolStatistics statistics,
        IReadOnlyList<HeldLease> longestHeld,
        Exception? lastCreationError,
        TimeSpan acquireTimeout,
        int? maxWaiters,
        string detail)
        : base(BuildMessage(poolName, reason, waited, statistics, longestHeld, lastCreationError, acquireTimeout, maxWaiters, detail), lastCreationError)
    {
        PoolName = poolName;
        Reason = reason;
        Waited = waited;
        Statistics = statistics;
        LongestHeldLeases = longestHeld;
    }

    /// <summary>Gets the pool's name.</summary>
    public string PoolName { get; }

    /// <summary>Gets why the acquire failed.</summary>
    public PoolExhaustedReason Reason { get; }

    /// <summary>Gets how long the acquirer waited before giving up.</summary>
    public TimeSpan Waited { get; }

    /// <summary>Gets the pool's counts when the acquire failed.</summary>
    public PoolStatistics Statistics { get; }

    /// <summary>Gets the longest-held leases when the acquire failed, longest first (at most five).</summary>
    public IReadOnlyList<HeldLease> LongestHeldLeases { get; }

    private static string BuildMessage(
        string poolName,
        PoolExhaustedReason reason,
        TimeSpan waited,
        PoolStatistics s,
        IReadOnlyList<HeldLease> longestHeld,
        Exception? lastCreationError,
        TimeSpan acquireTimeout,
        int? maxWaiters,
        string? detail = null)
    {
        var b = new StringBuilder();
        IFormatProvider c = CultureInfo.InvariantCulture;
        if (reason == PoolExhaustedReason.Shed)
        {
            b.Append(c, $"Pool '{poolName}' shed this acquire at once instead of queueing it: {detail} ");
            b.Append("This attempt will not be served; retry later or elsewhere, add capacity (MaxSize), or raise QueueTimeTarget.");
        }
        else if (reason == PoolExhaustedReason.WaitQueueFull)
        {
            b.Append(c, $"Pool '{poolName}' is exhausted and its wait queue is full: {s.Waiting} acquirers are already waiting (MaxWaiters = {maxWaiters}). ");
            b.Append("Raise MaxWaiters or MaxSize, or shed load earlier.");
        }
        else
        {
            b.Append(c, $"Pool '{poolName}' could not provide a resource within {FormatSpan(waited)} (AcquireTimeout = {FormatSpan(acquireTimeout)}). ");
            if (s.IsPaused)
            {
                b.Append("The pool is paused (Pause): nothing is handed out until Resume.");
            }
            else if (s.Live >= s.MaxSize)
            {
                b.Append(c, $"All {s.MaxSize} resources are in use: raise MaxSize (now {s.MaxSize}) or AcquireTimeout, or return leases sooner.");
            }
            else
            {
                b.Append(c, $"The pool holds {s.Live} of at most {s.MaxSize} resources and could not create more in time: creations failed, were backing off, or were limited by MaxConcurrentCreations.");
            }
        }

        b.Append(c, $" Counts: leased {s.Leased}, idle {s.Idle}, creating {s.Creating}, waiting {s.Waiting}, max {s.MaxSize}.");
        if (lastCreationError is not null)
        {
            b.Append(c, $" Last creation error: {lastCreationError.GetType().Name}: {lastCreationError.Message}");
        }

        if (longestHeld.Count > 0)
        {
            b.Append(" Longest-held leases:");
            foreach (HeldLease lease in longestHeld)
            {
                b.Append(c, $" held {FormatSpan(lease.HeldFor)}");
                b.Append(lease.AcquiredAt is null ? ";" : $", acquired at:{Environment.NewLine}{lease.AcquiredAt}{Environment.NewLine}");
            }

            if (longestHeld[0].AcquiredAt is null)
            {
                b.Append(" Set LeakDetectionThreshold to see where they were acquired.");
            }
        }

        return b.ToString();
    }

    private static string FormatSpan(TimeSpan span) =>
        span == Timeout.InfiniteTimeSpan ? "infinite" : string.Create(CultureInfo.InvariantCulture, $"{span.TotalMilliseconds:0.#} ms");
}
