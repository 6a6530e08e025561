namespace PoolKit.Tests.Exploration;

/// <summary>Takes the decisions of one schedule.</summary>
internal interface IChoiceStrategy
{
    /// <summary>Picks one of <paramref name="count"/> options (at least 2).</summary>
    /// <param name="count">The number of options.</param>
    /// <param name="isData">A data choice (a policy outcome) rather than which thread runs.</param>
    int Choose(int count, bool isData);
}

/// <summary>A random walk: every decision uniform, from a seeded generator (the seed names the schedule).</summary>
internal sealed class RandomWalkStrategy(int seed) : IChoiceStrategy
{
#pragma warning disable CA5394 // Not security: a reproducible schedule.
    private readonly Random _random = new(seed);

    public int Choose(int count, bool isData) => _random.Next(count);
#pragma warning restore CA5394
}

/// <summary>Replays a recorded schedule; beyond its end, always the first option.</summary>
internal sealed class ReplayStrategy(IReadOnlyList<int> choices) : IChoiceStrategy
{
    private int _next;

    public int Choose(int count, bool isData) => _next < choices.Count ? choices[_next++] : 0;
}

/// <summary>
/// Bounded-exhaustive search, one schedule per call of <see cref="Next"/>: replays a prefix, then takes the first option
/// at every new decision (recording how many there were); the next schedule advances the deepest decision that has an
/// option left. Stateless depth-first search over the decision tree, bounded by the number of schedules.
/// </summary>
internal sealed class DepthFirstStrategy : IChoiceStrategy
{
    private readonly List<(int Choice, int Count)> _path = new();
    private int _position;

    public int Choose(int count, bool isData)
    {
        if (_position < _path.Count)
        {
            return _path[_position++].Choice;
        }

        _path.Add((0, count));
        _position++;
        return 0;
    }

    /// <summary>Moves to the next schedule.</summary>
    /// <returns><see langword="false"/> when the whole tree was explored.</returns>
    public bool Next()
    {
        _path.RemoveRange(_position, _path.Count - _position);
        _position = 0;
        while (_path.Count > 0)
        {
            (int choice, int count) = _path[^1];
            if (choice + 1 < count)
            {
                _path[^1] = (choice + 1, count);
                return true;
            }

            _path.RemoveAt(_path.Count - 1);
        }

        return false;
    }
}
