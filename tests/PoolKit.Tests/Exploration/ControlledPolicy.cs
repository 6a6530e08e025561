using System.Globalization;

namespace PoolKit.Tests.Exploration;

/// <summary>
/// A policy whose every call is a scheduling point and whose asynchronous operations complete only when the scheduler
/// picks their completion event (continuations run inline, on that event's logical thread). The outcome of each call
/// is a data choice of the schedule among the scenario's allowed outcomes. Resets nothing: the pool's one-step return
/// path is explored with it; <see cref="ControlledResettingPolicy"/> resets.
/// </summary>
internal class ControlledPolicy : ResourcePolicy<ExploredResource>
{
    private readonly ControlledScheduler _scheduler;

    private int _created;
    private int _creationsStarted;
    private int _destroyed;

    public ControlledPolicy(ControlledScheduler scheduler) => _scheduler = scheduler;

    protected ControlledScheduler Scheduler => _scheduler;

    public Outcome[] CreateOutcomes { get; set; } = [Outcome.Succeed];

    public Outcome[] ValidateOutcomes { get; set; } = [Outcome.Succeed];

    public Outcome[] ResetOutcomes { get; set; } = [Outcome.Succeed];

    public Outcome[] DestroyOutcomes { get; set; } = [Outcome.SucceedAtOnce];

    /// <summary>From now on every call succeeds at once (operations already pending keep their outcome).</summary>
    public bool Healed { get; set; }

    /// <summary>Every resource created so far.</summary>
    public List<ExploredResource> Resources { get; } = new();

    public int CreationsStarted => _creationsStarted;

    public int Created => _created;

    /// <summary>Resources created and not yet destroyed (a destruction still running counts as alive).</summary>
    public int Alive => _created - _destroyed;

    /// <summary>Operations started and not completed (hung ones included).</summary>
    public int Pending { get; private set; }

    /// <summary>Pending operations that will never complete by themselves.</summary>
    public int Hung { get; private set; }

    public int Validations { get; private set; }

    /// <summary>Creations that failed or were cancelled.</summary>
    public int CreationFailures { get; private set; }

    /// <summary>
    /// Creations still running when the pool cancelled their token (their bound): the pool may give such a creation up
    /// (abandon it and count it failed) if it ignores the token. An upper bound on the creations the pool may count as
    /// failed beyond <see cref="CreationFailures"/>.
    /// </summary>
    public int CreationsPastTheirBound { get; private set; }

    public override ValueTask<ExploredResource> CreateAsync(CancellationToken cancellationToken)
    {
        _scheduler.Point("policy.CreateAsync");
        int n = Interlocked.Increment(ref _creationsStarted);
        ValueTask<ExploredResource> creation = Run(
            "create" + n.ToString(CultureInfo.InvariantCulture),
            CreateOutcomes,
            () =>
            {
                var resource = new ExploredResource(n);
                Resources.Add(resource);
                _created++;
                return resource;
            },
            () => throw new InvalidOperationException($"creation {n} failed (scripted)"),
            () => CreationFailures++,
            cancellationToken);
        if (!creation.IsCompleted && cancellationToken.CanBeCanceled)
        {
            Task<ExploredResource> pending = creation.AsTask();
            cancellationToken.Register(() =>
            {
                if (!pending.IsCompleted)
                {
                    CreationsPastTheirBound++;
                }
            });
            return new ValueTask<ExploredResource>(pending);
        }

        return creation;
    }

    public override ValueTask<bool> ValidateAsync(ExploredResource resource, CancellationToken cancellationToken)
    {
        _scheduler.Point("policy.ValidateAsync");
        CheckUsable(resource, "validated");
        Validations++;
        NoteGivingUp(resource, cancellationToken);
        return Run("validate " + resource, ValidateOutcomes, () => true, () => false, null, cancellationToken);
    }

    public override ValueTask DestroyAsync(ExploredResource resource)
    {
        _scheduler.Point("policy.DestroyAsync");
        if (resource.DestroyStarted)
        {
            throw new InvalidOperationException($"{resource} destroyed twice");
        }

        resource.DestroyStarted = true;
        if (resource.HeldBy is { } holder)
        {
            throw new InvalidOperationException($"{resource} destroyed while {holder} holds its lease");
        }

        return new ValueTask(Run(
            "destroy " + resource,
            DestroyOutcomes,
            () =>
            {
                resource.Destroyed = true;
                _destroyed++;
                return true;
            },
            () =>
            {
                resource.Destroyed = true;
                _destroyed++;
                throw new InvalidOperationException($"destroying {resource} failed (scripted)");
            },
            null,
            CancellationToken.None).AsTask());
    }

    /// <summary>Remembers the check's token: the resource counts as given up on once it is cancelled.</summary>
    protected static void NoteGivingUp(ExploredResource resource, CancellationToken cancellationToken) => resource.LastCheckToken = cancellationToken;

    /// <summary>Fails the schedule if the pool works on a resource it should no longer have.</summary>
    protected static void CheckUsable(ExploredResource resource, string what)
    {
        if (resource.DestroyStarted)
        {
            throw new InvalidOperationException($"{resource} {what} after its destruction began");
        }
    }

    protected ValueTask<TResult> Run<TResult>(string name, Outcome[] allowed, Func<TResult> succeed, Func<TResult> fail, Action? failed, CancellationToken cancellationToken)
    {
        Outcome outcome = Healed ? Outcome.SucceedAtOnce : allowed[_scheduler.ChooseData(allowed.Length, name)];
        if (outcome == Outcome.SucceedAtOnce)
        {
            return new ValueTask<TResult>(succeed());
        }

        // No RunContinuationsAsynchronously: the pool's continuation runs inline on the completing event's thread.
        var completion = new TaskCompletionSource<TResult>();
        Pending++;
        if (outcome is Outcome.Hang or Outcome.HangIgnoringToken)
        {
            Hung++;
        }

        if (outcome is Outcome.Succeed or Outcome.Fail)
        {
            _scheduler.AddEvent(
                $"{name} ends ({outcome})",
                () => !completion.Task.IsCompleted,
                () =>
                {
                    Pending--;
                    if (outcome == Outcome.Succeed)
                    {
                        completion.SetResult(succeed());
                        return;
                    }

                    failed?.Invoke();
                    try
                    {
                        completion.SetResult(fail());
                    }
#pragma warning disable CA1031 // The scripted failure is the operation's outcome.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        completion.SetException(ex);
                    }
                });
        }
        else if (outcome == Outcome.Hang && cancellationToken.CanBeCanceled)
        {
            // Honours its token: the cancellation (a timer or a caller) ends it inline, on the canceller's thread.
            cancellationToken.Register(() =>
            {
                if (completion.TrySetCanceled(cancellationToken))
                {
                    Pending--;
                    Hung--;
                    failed?.Invoke();
                }
            });
        }

        return new ValueTask<TResult>(completion.Task);
    }
}
