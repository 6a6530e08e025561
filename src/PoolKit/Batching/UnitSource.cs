using System.Runtime.CompilerServices;

namespace PoolKit.Internal;

/// <summary>Cuts a stream of items into units of work, lazily, counting what it reads.</summary>
internal static class UnitSource
{
    /// <summary>Adapts a synchronous enumerable to the asynchronous pipeline (read lazily, one item at a time).</summary>
    public static async IAsyncEnumerable<T> ToAsync<T>(IEnumerable<T> items)
    {
        foreach (T item in items)
        {
            yield return item;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }

    /// <summary>Yields units of up to <paramref name="size"/> items; <paramref name="onRead"/> learns of each unit before it is handed out.</summary>
    public static async IAsyncEnumerable<PendingUnit<T>> ChunkAsync<T>(
        IAsyncEnumerable<T> items,
        int size,
        Action<int> onRead,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long index = 0;
        T[]? buffer = null;
        int count = 0;
        await foreach (T item in items.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            buffer ??= new T[size];
            buffer[count++] = item;
            if (count == size)
            {
                onRead(count);
                yield return new PendingUnit<T>(buffer, index);
                index += count;
                buffer = null;
                count = 0;
            }
        }

        if (count > 0)
        {
            onRead(count);
            yield return new PendingUnit<T>(buffer.AsMemory(0, count), index);
        }
    }
}

/// <summary>A unit cut from the input: its items and the input position of the first one.</summary>
internal readonly record struct PendingUnit<T>(ReadOnlyMemory<T> Items, long FirstIndex);
