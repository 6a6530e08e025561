using System.Runtime.InteropServices;

namespace PoolKit.Cli.Infrastructure;

/// <summary>
/// Turns Ctrl+C (SIGINT) and SIGTERM into a cancellation, so runs stop cleanly, report what committed, and remove
/// the throwaway server, instead of the process dying on the spot. A second signal is also absorbed: cleanup always
/// runs to the end.
/// </summary>
internal sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration[] _registrations;
    private readonly Action<string> _notify;

    /// <summary>Initializes a new instance and starts listening.</summary>
    /// <param name="notify">Told, once, that the run is stopping.</param>
    public ShutdownSignal(Action<string> notify)
    {
        _notify = notify;
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    /// <summary>Gets the token cancelled by the first signal.</summary>
    public CancellationToken Token => _source.Token;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }

        _source.Dispose();
    }

    private void OnSignal(PosixSignalContext context)
    {
        // Keep the process alive: the run stops at the next item and the finally blocks clean up.
        context.Cancel = true;
        if (!_source.IsCancellationRequested)
        {
            _notify("stopping: finishing the inserts in flight, then reporting and cleaning up...");
            _source.Cancel();
        }
    }
}
