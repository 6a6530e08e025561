namespace PoolKit.Internal;

/// <summary>
/// Spaces out creation attempts while creations keep failing (a database that is down or refusing
/// connections), with exponential growth and jitter, and remembers the last error for diagnostics.
/// </summary>
/// <remarks>
/// <b>Concurrency.</b> Failures and successes are rare and update the state under <see cref="_lock"/>.
/// <see cref="_blockedUntil"/> is also read without the lock on the creation path (a racy read is harmless:
/// at worst one extra attempt, or one wait slightly too long). Delay after the n-th consecutive failure:
/// <c>min(max, initial * 2^(n-1))</c>, scaled by a random factor in [0.5, 1). That delay paces the creations nobody waits
/// for; acquirers may try again once the initial delay has passed (<see cref="IsBlockedForAcquirers"/>).
/// </remarks>
internal sealed class CreationBackoff
{
    private readonly object _lock = new();
    private readonly PoolClock _clock;
    private readonly TimeSpan _initial;
    private readonly TimeSpan _max;
    private readonly long _probeTicks;
    private int _consecutiveFailures;
    private long _blockedUntil;
    private Exception? _lastError;
    private long _lastErrorAt;
    private long _firstErrorAt;
    private int _lastErrorPermanent;

    public CreationBackoff(PoolClock clock, TimeSpan initial, TimeSpan max)
    {
        _clock = clock;
        _initial = initial;
        _max = max;
        _probeTicks = clock.ToTicks(initial);
    }

    /// <summary>Gets the timestamp before which no creation should start (0 when creations are not backed off).</summary>
    public long BlockedUntil => Volatile.Read(ref _blockedUntil);

    /// <summary>Gets the number of creation failures since the last success.</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>Gets the last creation error since the last success, or <see langword="null"/>.</summary>
    public Exception? LastError => Volatile.Read(ref _lastError);

    /// <summary>Gets when the first of the current run of failures happened (timestamp; meaningful while <see cref="ConsecutiveFailures"/> &gt; 0).</summary>
    public long FirstErrorAt => Volatile.Read(ref _firstErrorAt);

    /// <summary>Gets when the last creation error happened (timestamp).</summary>
    public long LastErrorAt => Volatile.Read(ref _lastErrorAt);

    /// <summary>Gets whether the last creation error (since the last success) is one retrying cannot fix (<see cref="IResourcePolicy{T}.IsPermanentCreationError"/>).</summary>
    public bool LastErrorIsPermanent => Volatile.Read(ref _lastErrorPermanent) != 0;

    /// <summary>Tells whether a creation may start at <paramref name="now"/>.</summary>
    public bool IsBlocked(long now) => now < Volatile.Read(ref _blockedUntil);

    /// <summary>
    /// Tells whether a creation for acquirers (new or waiting) is held back at <paramref name="now"/>: only within the
    /// initial delay after the last failure, or for the whole back-off when that failure was one retrying cannot fix.
    /// While acquirers ask, a server that has just come back (a failover's new primary) is tried within the initial
    /// delay instead of at the end of a long back-off; the server sees at most one attempt per initial delay (one at a
    /// time while creations keep failing), and none while nobody asks. The exponential back-off paces the attempts
    /// nobody waits for (the refill to MinSize).
    /// </summary>
    public bool IsBlockedForAcquirers(long now) => now < AcquirersMayTryAt;

    /// <summary>
    /// Gets the timestamp from which a creation for acquirers may start (see <see cref="IsBlockedForAcquirers"/>): the
    /// earlier of <see cref="BlockedUntil"/> and the last failure plus the initial delay; 0 when not backed off.
    /// </summary>
    public long AcquirersMayTryAt
    {
        get
        {
            long until = Volatile.Read(ref _blockedUntil);
            return LastErrorIsPermanent ? until : Math.Min(until, Volatile.Read(ref _lastErrorAt) + _probeTicks);
        }
    }

    /// <summary>Records a failed creation and pushes the next allowed attempt out.</summary>
    /// <param name="error">The creation's error.</param>
    /// <param name="now">When it failed.</param>
    /// <param name="permanent">Whether the policy says retrying cannot fix it.</param>
    /// <returns>The delay chosen before the next attempt.</returns>
    public TimeSpan RecordFailure(Exception error, long now, bool permanent = false)
    {
        lock (_lock)
        {
            int failures = ++_consecutiveFailures;
            double factor = Math.Pow(2, Math.Min(failures - 1, 30));
            double delayTicks = Math.Min(_max.Ticks, _initial.Ticks * factor);
#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
            delayTicks *= 0.5 + (Random.Shared.NextDouble() * 0.5);
#pragma warning restore CA5394
            var delay = TimeSpan.FromTicks((long)delayTicks);
            long until = now + _clock.ToTicks(delay);
            // Ordering: the failure's time and kind before the new end of the back-off, so a reader of AcquirersMayTryAt
            // that sees the new end also sees them.
            Volatile.Write(ref _lastErrorAt, now);
            Volatile.Write(ref _lastErrorPermanent, permanent ? 1 : 0);
            Volatile.Write(ref _lastError, error);
            Volatile.Write(ref _blockedUntil, until);
            if (failures == 1)
            {
                Volatile.Write(ref _firstErrorAt, now);
            }

            return delay;
        }
    }

    /// <summary>Records a successful creation: the back-off and the last error are forgotten.</summary>
    public void RecordSuccess()
    {
        if (Volatile.Read(ref _consecutiveFailures) == 0 && Volatile.Read(ref _lastError) is null)
        {
            return;
        }

        lock (_lock)
        {
            _consecutiveFailures = 0;
            Volatile.Write(ref _blockedUntil, 0);
            Volatile.Write(ref _lastError, null);
            Volatile.Write(ref _lastErrorPermanent, 0);
        }
    }
}
