namespace PoolKit.Tests.Exploration;

/// <summary>One logical thread of a <see cref="ControlledScheduler"/>: a real thread that runs only while it holds the baton.</summary>
internal sealed class LogicalThread
{
    private readonly ControlledScheduler _scheduler;
    private readonly Action _body;
    private readonly SemaphoreSlim _baton = new(0);

    public LogicalThread(ControlledScheduler scheduler, int id, string name, Action body)
    {
        _scheduler = scheduler;
        _body = body;
        Id = id;
        Name = $"{name}#{id}";
        Thread = new Thread(Main) { IsBackground = true, Name = "explore " + Name };
    }

    public int Id { get; }

    public string Name { get; }

    public Thread Thread { get; }

    /// <summary>Where the thread stopped last (a scheduling point, or what it waits for).</summary>
    public string Where { get; set; } = "not started";

    /// <summary>While set, the thread is enabled only when this holds.</summary>
    public Func<bool>? Until { get; set; }

    public bool Started { get; private set; }

    public bool Finished { get; private set; }

    public void Start()
    {
        Started = true;
        Thread.Start();
    }

    public void Release() => _baton.Release();

    public void WaitForBaton()
    {
        _baton.Wait();
        if (_scheduler.IsAborted)
        {
            throw new ScheduleAbortedException();
        }
    }

    public void Join(TimeSpan timeout)
    {
        if (Started)
        {
            _ = Thread.Join(timeout);
        }
    }

    private void Main()
    {
        _baton.Wait();
        if (_scheduler.IsAborted)
        {
            Finished = true;
            return;
        }

        Exception? error = null;
        Where = "running";
        try
        {
            _body();
        }
#pragma warning disable CA1031 // Reported to the scheduler, which fails the schedule with it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            error = ex;
        }

        Where = "finished";
        Finished = true;
        _scheduler.ThreadFinished(this, error);
    }
}
