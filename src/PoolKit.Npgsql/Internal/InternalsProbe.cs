namespace PoolKit.Npgsql.Internal;

/// <summary>
/// Whether a set of Npgsql internals reached through <see cref="System.Runtime.CompilerServices.UnsafeAccessorAttribute"/>
/// can be used in this process: checked once (without a connection), and switched off for good at the first sign that
/// they do not behave as expected. Each user (<see cref="NpgsqlPrependedReset"/>, <see cref="NpgsqlServerHangup"/>,
/// <see cref="NpgsqlConnectorHandover"/>) keeps one and falls back to its public-API path when it is off.
/// </summary>
/// <remarks>
/// Shared state: <see cref="_state"/>, written by any thread from <see cref="Unknown"/> to <see cref="Available"/> or
/// <see cref="Unavailable"/>, and from <see cref="Available"/> to <see cref="Unavailable"/> only; a stale read costs
/// one more probe or one more fallback, never a use of members that do not bind.
/// </remarks>
/// <param name="membersBind">The check: whether every member binds (and whatever else the user requires).</param>
internal sealed class InternalsProbe(Func<bool> membersBind)
{
    private const int Unknown = 0;
    private const int Available = 1;
    private const int Unavailable = 2;

    private int _state;

    /// <summary>Gets whether the internals can be used (probing once if needed).</summary>
    public bool IsAvailable => Volatile.Read(ref _state) switch
    {
        Available => true,
        Unavailable => false,
        _ => Probe(),
    };

    /// <summary>Gets whether the internals are known not to be usable (without probing).</summary>
    public bool IsOff => Volatile.Read(ref _state) == Unavailable;

    /// <summary>Runs the check if it has not run yet.</summary>
    /// <returns>Whether the internals can be used.</returns>
    public bool Probe()
    {
        if (Volatile.Read(ref _state) == Unknown)
        {
            Interlocked.CompareExchange(ref _state, membersBind() ? Available : Unavailable, Unknown);
        }

        return Volatile.Read(ref _state) == Available;
    }

    /// <summary>Switches the internals off for the rest of the process (a member threw, or did not do what it should).</summary>
    public void TurnOff() => Volatile.Write(ref _state, Unavailable);
}
