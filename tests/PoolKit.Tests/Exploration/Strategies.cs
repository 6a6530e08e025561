namespace PoolKit.Tests.Exploration;

/// <summary>Takes the decisions of one schedule.</summary>
internal interface IChoiceStrategy
{
    /// <summary>Picks one of <paramref name="count"/> options (at least 2).</summary>
    /// <param name="count">The number of options.</param>
    /// <param name="kind">What is chosen.</param>
    int Choose(int count, ChoiceKind kind);
}

/// <summary>What a decision chooses.</summary>
internal enum ChoiceKind
{
    /// <summary>A data value (a policy outcome).</summary>
    Data,

    /// <summary>Who runs next, the thread that reached the point not among the options (it finished or waits).</summary>
    Schedule,

    /// <summary>Who runs next, option 0 being the thread that reached the point: any other option preempts it.</summary>
    Preemption,
}

/// <summary>A random walk: every decision uniform, from a seeded generator (the seed names the schedule).</summary>
internal sealed class RandomWalkStrategy(int seed) : IChoiceStrategy
{
#pragma warning disable CA5394 // Not security: a reproducible schedule.
    private readonly Random _random = new(seed);

    public int Choose(int count, ChoiceKind kind) => _random.Next(count);
#pragma warning restore CA5394
}

/// <summary>Replays a recorded schedule; beyond its end, always the first option.</summary>
internal sealed class ReplayStrategy(IReadOnlyList<int> choices) : IChoiceStrategy
{
    private int _next;

    public int Choose(int count, ChoiceKind kind) => _next < choices.Count ? choices[_next++] : 0;
}

/// <summary>
/// Bounded-exhaustive search, one schedule per call of <see cref="Next"/>: replays a prefix, then takes the first option
/// at every new decision (recording how many there were); the next schedule advances the deepest decision that has an
/// option left. Stateless depth-first search over the decision tree, with a preemption bound: a schedule switches away
/// from a thread that could go on at most <c>preemptionBound</c> times (most concurrency bugs need very few), which
/// keeps the tree small enough to exhaust for small scenarios. Data choices are all explored.
/// </summary>
internal sealed class DepthFirstStrategy(int preemptionBound) : IChoiceStrategy
{
    private readonly List<(int Choice, int Count)> _path = new();
    private int _position;
    private int _preemptions;

    public int Choose(int count, ChoiceKind kind)
    {
        int options = kind == ChoiceKind.Preemption && _preemptions >= preemptionBound ? 1 : count;
        int choice;
        if (_position < _path.Count)
        {
            choice = _path[_position].Choice;
        }
        else
        {
            _path.Add((0, options));
            choice = 0;
        }

        _position++;
        if (kind == ChoiceKind.Preemption && choice > 0)
        {
            _preemptions++;
        }

        return choice;
    }

    /// <summary>Moves to the next schedule.</summary>
    /// <returns><see langword="false"/> when the whole (bounded) tree was explored.</returns>
    public bool Next()
    {
        _path.RemoveRange(_position, _path.Count - _position);
        _position = 0;
        _preemptions = 0;
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
