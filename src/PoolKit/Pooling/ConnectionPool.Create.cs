using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Creating: reservation before creation, the concurrency limit, back-off and expiry with jitter.</content>
public sealed partial class ConnectionPool<T>
{
    /// <summary>
    /// Reserves an <c>Empty</c> slot (or a never-used one) for a creation, within the creation limit and the back-off.
    /// </summary>
    private ReserveResult TryReserve(long now, out Slot<T>? slot)
    {
        slot = null;
        if (_backoff.IsBlocked(now))
        {
            return ReserveResult.BackedOff;
        }

        // A full pool has no empty slot: skip the interlocked traffic on the creation counter.
        if (Volatile.Read(ref _live) >= _options.MaxSize)
        {
            return ReserveResult.Full;
        }

        int creating = Volatile.Read(ref _creating);
        while (true)
        {
            if (creating >= _options.MaxConcurrentCreations)
            {
                return ReserveResult.CreationLimit;
            }

            int seen = Interlocked.CompareExchange(ref _creating, creating + 1, creating);
            if (seen == creating)
            {
                break;
            }

            creating = seen;
        }

        slot = TryReserveSlot();
        if (slot is null)
        {
            Interlocked.Decrement(ref _creating);
            return ReserveResult.Full;
        }

        // Count the reservation before the resource exists (the bound includes creations in flight).
        Interlocked.Increment(ref _live);
        slot.Generation = Volatile.Read(ref _generation);
        AssertCountersInRange();
        return ReserveResult.Reserved;
    }

    private Slot<T>? TryReserveSlot()
    {
        Slot<T>?[] slots = _slots;
        int allocated = Math.Min(Volatile.Read(ref _allocated), slots.Length);
        for (int i = 0; i < allocated; i++)
        {
            Slot<T>? slot = Volatile.Read(ref slots[i]);
            if (slot is not null && slot.TryTransition(SlotState.Empty, SlotState.Creating))
            {
                return slot;
            }
        }

        // Allocate a never-used slot: win the index by CAS, then publish the slot object (born Creating).
        while (true)
        {
            int index = Volatile.Read(ref _allocated);
            if (index >= slots.Length)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _allocated, index + 1, index) == index)
            {
                var slot = new Slot<T>(this, index, SlotState.Creating);
                Volatile.Write(ref slots[index], slot);
                return slot;
            }
        }
    }

    /// <summary>Gives up a reservation that will not be used: the slot is <c>Empty</c> again and uncounted.</summary>
    private void AbandonReservation(Slot<T> slot)
    {
        slot.Resource = null;
        Interlocked.Decrement(ref _creating);
        slot.Transition(SlotState.Creating, SlotState.Empty);
        OnSlotFreed();
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PoolLease<T>> CreateLeaseAsync(Slot<T> slot, long waitStartPrecise, long deadline, CancellationToken cancellationToken)
    {
        await CreateIntoSlotAsync(slot, deadline, cancellationToken).ConfigureAwait(false);
        if (IsDisposed)
        {
            _ = DestroyOwned(slot, DestroyReason.PoolDisposed);
            ThrowHelper.ThrowDisposed(Name);
        }

        return Lease(slot, waitStartPrecise, _clock.Now);
    }

    /// <summary>
    /// Creates the resource of a reserved slot, bounded by <paramref name="deadline"/>. On success the slot is
    /// <c>Leased</c> and owned by the caller; on failure the reservation is abandoned and the error thrown.
    /// </summary>
    private async ValueTask CreateIntoSlotAsync(Slot<T> slot, long deadline, CancellationToken cancellationToken)
    {
        long begin = _clock.Now;
        CancellationTokenSource? timeout = null;
        CancellationTokenSource? linked = null;
        CancellationToken token = cancellationToken;
        if (deadline != long.MaxValue)
        {
            TimeSpan remaining = deadline > begin ? Elapsed(begin, deadline) : TimeSpan.FromTicks(1);
            timeout = new CancellationTokenSource(remaining, _time);
            linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            token = linked.Token;
        }

        T resource;
        try
        {
            resource = await _policy.CreateAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The acquirer gave up: not a failure of the server, no back-off.
            AbandonReservation(slot);
            throw;
        }
        catch (OperationCanceledException ex) when (timeout?.IsCancellationRequested == true)
        {
            var error = new ResourceCreationException(
                Name,
                string.Create(CultureInfo.InvariantCulture, $"Pool '{Name}' could not create a resource within the acquire timeout (AcquireTimeout = {_options.AcquireTimeout.TotalMilliseconds:0} ms): the creation was still running after {Elapsed(begin, _clock.Now).TotalMilliseconds:0} ms. Is the server reachable and responsive?"),
                ex);
            RecordCreationFailure(error);
            AbandonReservation(slot);
            throw error;
        }
        catch (Exception ex)
        {
            RecordCreationFailure(ex);
            AbandonReservation(slot);
            throw;
        }
        finally
        {
            linked?.Dispose();
            timeout?.Dispose();
        }

        long end = _clock.Now;
        slot.Resource = resource;
        slot.CreatedAt = end;
        slot.IdleSince = end;
        slot.ExpiresAt = ComputeExpiry(end);
        Interlocked.Increment(ref _totalCreated);
        int failures = _backoff.ConsecutiveFailures;
        long outageStart = _backoff.FirstErrorAt;
        _backoff.RecordSuccess();
        if (failures > 0)
        {
            // The outage's summary (its start and each change of error were logged at Warning).
            _logger.CreationRecovered(Name, failures, Elapsed(outageStart, end).TotalMilliseconds);
        }

        _metrics.RecordCreateTime(Elapsed(begin, end));
        _logger.ResourceCreated(Name, slot.Index, Elapsed(begin, end).TotalMilliseconds);
        Interlocked.Decrement(ref _creating);
        slot.Transition(SlotState.Creating, SlotState.Leased);

        // A creation permit is free again: a waiter held back by the limit may now create.
        WakeOneForRecheck();
    }

    /// <summary>
    /// Counts a failed creation and logs it as an outage: its start and each change of error at Warning with the
    /// error, every further attempt that fails the same way at Debug without a stack trace.
    /// </summary>
    private void RecordCreationFailure(Exception error)
    {
        Interlocked.Increment(ref _totalCreationFailures);
        Exception? previous = _backoff.LastError;
        TimeSpan delay = _backoff.RecordFailure(error, _clock.Now);
        int failures = _backoff.ConsecutiveFailures;
        string kind = ErrorKind(error);
        bool news = failures == 1 || previous is null || kind != ErrorKind(previous);
        _logger.CreationFailed(news ? LogLevel.Warning : LogLevel.Debug, Name, failures, kind, delay.TotalMilliseconds, news ? error : null);
    }

    /// <summary>Names an error by its type, a database error's SQLSTATE and its cause's type (never its message, which may vary).</summary>
    private static string ErrorKind(Exception error)
    {
        string kind = error.GetType().Name;
        if (error is System.Data.Common.DbException { SqlState: { } sqlState })
        {
            kind += " " + sqlState;
        }

        return error.InnerException is { } cause ? $"{kind} ({cause.GetType().Name})" : kind;
    }

    private ResourceCreationException CreateFailFastException(long now)
    {
        Exception? last = _backoff.LastError;
        long until = _backoff.BlockedUntil;
        double retryInMs = until > now ? Elapsed(now, until).TotalMilliseconds : 0;
        double agoMs = last is null ? 0 : Elapsed(_backoff.LastErrorAt, now).TotalMilliseconds;
        string message = string.Create(
            CultureInfo.InvariantCulture,
            $"Pool '{Name}' holds no resource and could not create one: the last attempt failed {agoMs:0} ms ago ({_backoff.ConsecutiveFailures} failures in a row) with {last?.GetType().Name}: {last?.Message} The next attempt is allowed in {retryInMs:0} ms; the pool recovers by itself once creation succeeds.");
        return new ResourceCreationException(Name, message, last);
    }

    private long ComputeExpiry(long createdAt)
    {
        if (_lifetimeTicks == long.MaxValue)
        {
            return long.MaxValue;
        }

#pragma warning disable CA5394 // Jitter needs no cryptographic randomness.
        long jitter = _lifetimeJitterTicks > 0 ? (long)(Random.Shared.NextDouble() * _lifetimeJitterTicks) : 0;
#pragma warning restore CA5394
        return createdAt + _lifetimeTicks - jitter;
    }
}
