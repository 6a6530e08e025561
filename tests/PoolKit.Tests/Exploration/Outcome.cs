namespace PoolKit.Tests.Exploration;

/// <summary>How one call into <see cref="ControlledPolicy"/> ends; the scheduler picks among a scenario's allowed outcomes.</summary>
internal enum Outcome
{
    /// <summary>Succeeds before returning (a completed task).</summary>
    SucceedAtOnce,

    /// <summary>Succeeds later, when the scheduler completes it.</summary>
    Succeed,

    /// <summary>Fails later (creation: throws; validation and reset: false; destroy: throws).</summary>
    Fail,

    /// <summary>Never completes by itself; ends with cancellation when its token is cancelled.</summary>
    Hang,

    /// <summary>Never completes and ignores its token.</summary>
    HangIgnoringToken,
}
