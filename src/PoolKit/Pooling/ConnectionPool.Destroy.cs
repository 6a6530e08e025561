using PoolKit.Diagnostics;
using PoolKit.Internal;

namespace PoolKit;

/// <content>Destroying and freeing: a resource leaves, its slot becomes <c>Empty</c>, and the room it leaves is offered to waiters.</content>
public sealed partial class ConnectionPool<T>
{
    /// <summary>Destroys the resource of an owned (<c>Leased</c>) slot and frees the slot.</summary>
    /// <returns>A task that completes when the slot is free again; it never faults.</returns>
    /// <remarks>A destruction is bounded by <see cref="ConnectionPoolOptions.DestroyTimeout"/>: one still running then is abandoned (logged and counted), its slot freed, and its task observed in the background.</remarks>
    private Task DestroyOwned(Slot<T> slot, DestroyReason reason)
    {
        slot.Transition(SlotState.Leased, SlotState.Destroying);
        T? resource = slot.Resource;
        slot.Resource = null;
        slot.AcquireStackTrace = null;
        Interlocked.Increment(ref _destroyedBy[(int)reason]);
        _logger.ResourceDestroyed(Name, slot.Index, ReasonText(reason));
        if (resource is null)
        {
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        ValueTask destroy;
        try
        {
            destroy = _policy.DestroyAsync(resource);
        }
#pragma warning disable CA1031 // Destroy errors are logged and otherwise ignored (documented).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, slot.Index, ex);
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        if (destroy.IsCompletedSuccessfully)
        {
            FreeDestroyed(slot);
            return Task.CompletedTask;
        }

        return FinishDestroyAsync(slot, destroy.AsTask());
    }

    private async Task FinishDestroyAsync(Slot<T> slot, Task destroy)
    {
        try
        {
            await destroy.WaitAsync(_options.DestroyTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.DestroyAbandoned(Name, slot.Index, _options.DestroyTimeout.TotalMilliseconds);
            Interlocked.Increment(ref _totalAbandoned);
            _ = ObserveAbandonedAsync(destroy, slot.Index);
        }
#pragma warning disable CA1031 // Destroy errors are logged and otherwise ignored (documented).
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, slot.Index, ex);
        }
        finally
        {
            FreeDestroyed(slot);
        }
    }

    /// <summary>
    /// Gives up an owned slot whose check (reset or validation) ignored its bound: the slot is freed at once, and the
    /// resource is destroyed in the background when the check finally ends.
    /// </summary>
    private void AbandonOwned(Slot<T> slot, Task check, DestroyReason reason)
    {
        slot.Transition(SlotState.Leased, SlotState.Destroying);
        T resource = slot.Resource!;
        slot.Resource = null;
        slot.AcquireStackTrace = null;
        Interlocked.Increment(ref _destroyedBy[(int)reason]);
        Interlocked.Increment(ref _totalAbandoned);
        FreeDestroyed(slot);
        _ = DestroyAbandonedAsync(check, resource, slot.Index);
    }

    private async Task DestroyAbandonedAsync(Task check, T resource, int index)
    {
        Interlocked.Increment(ref _abandonedRunning);
        try
        {
            await check.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await _policy.DestroyAsync(resource).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Logged; nobody else can observe it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, index, ex);
        }
        finally
        {
            Interlocked.Decrement(ref _abandonedRunning);
        }
    }

    private async Task ObserveAbandonedAsync(Task destroy, int index)
    {
        Interlocked.Increment(ref _abandonedRunning);
        try
        {
            await destroy.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Logged; nobody else can observe it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.DestroyFailed(Name, index, ex);
        }
        finally
        {
            Interlocked.Decrement(ref _abandonedRunning);
        }
    }

    private void FreeDestroyed(Slot<T> slot)
    {
        Interlocked.Increment(ref _totalDestroyed);
        slot.Transition(SlotState.Destroying, SlotState.Empty);
        OnSlotFreed();
    }

    /// <summary>A slot became <c>Empty</c>: uncount it (after, so non-empty slots ≤ live holds), and offer the room to waiters and maintenance.</summary>
    private void OnSlotFreed()
    {
        int live = Interlocked.Decrement(ref _live);
        AssertCountersInRange();
        if (IsDisposed)
        {
            if (live == 0)
            {
                _drained.TrySetResult();
            }

            return;
        }

        if (_waiters.Count > 0)
        {
            StartCreationsForWaiters();
        }

        if (live < _options.MinSize)
        {
            KickMaintenance();
        }
    }

    private static string ReasonText(DestroyReason reason) => reason switch
    {
        DestroyReason.Broken => "marked broken by its user",
        DestroyReason.ClosedByCaller => "closed by its user",
        DestroyReason.Unusable => "failed the usability check",
        DestroyReason.ValidationFailed => "failed validation",
        DestroyReason.ResetFailed => "could not be reset",
        DestroyReason.Expired => "reached MaxLifetime",
        DestroyReason.IdleTimeout => "idle longer than IdleTimeout",
        DestroyReason.Cleared => "the pool was cleared",
        DestroyReason.PoolDisposed => "the pool was disposed",
        _ => reason.ToString(),
    };
}
