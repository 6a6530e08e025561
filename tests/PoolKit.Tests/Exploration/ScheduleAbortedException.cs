namespace PoolKit.Tests.Exploration;

/// <summary>Unwinds a logical thread of a schedule that failed or was stopped.</summary>
internal sealed class ScheduleAbortedException : Exception
{
    public ScheduleAbortedException()
        : base("the schedule was stopped")
    {
    }
}
