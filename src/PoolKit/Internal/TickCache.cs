using System.Diagnostics;

namespace PoolKit.Internal;

/// <summary>
/// <see cref="Environment.TickCount64"/>, cached: one background thread stores it every
/// <see cref="Interval"/>, so that the rent/return path reads a field instead of a clock.
/// </summary>
/// <remarks>
/// <para><b>Why.</b> Reading a clock is not free on virtual machines. Measured with <c>loop</c> (tests/PoolKit.Benchmarks)
/// on the 2-core CI machine, with the clock source <c>tsc</c>, and the same with <c>kvm-clock</c>:
/// <c>Environment.TickCount64</c> costs 13 ns and <c>Stopwatch.GetTimestamp()</c> 31 ns (a C loop calling
/// <c>clock_gettime</c> through the vDSO: 7 ns coarse, 32 ns precise). The whole <c>DefaultObjectPool</c> Get+Return
/// cycle costs 19 ns, so two clock reads per rent/return cycle cost more than the cycle it is compared with.</para>
/// <para><b>What a reader gets.</b> A millisecond tick that is never ahead of <see cref="Environment.TickCount64"/>
/// and, while the ticker runs, behind it by at most one interval plus the time the OS takes to wake the thread.
/// The rent/return path uses it for the validation window, the lifetime and the idle and lease start times, all of
/// which are settings of hundreds of milliseconds and more; deadlines and timers read the exact clock.</para>
/// <para><b>Protocol.</b> <see cref="s_state"/> is <c>Stopped</c>, <c>Starting</c> or <c>Running</c>. Only
/// while <c>Running</c> do readers take <see cref="s_ticks"/>; otherwise they read the clock themselves, and the
/// first of them (by CAS <c>Stopped → Starting</c>) starts the thread, which stores a fresh tick before it publishes
/// <c>Running</c>. A reader marks <see cref="s_read"/> (only when it is clear, so readers do not write a shared line
/// on every read). The thread clears the mark at every tick; after <see cref="IdleTicksBeforeStop"/> ticks in a row
/// without a reader it publishes <c>Stopped</c> and ends, so an idle process has no thread waking up. A reader that
/// saw <c>Running</c> just before that takes a tick at most one interval old, as always. If no thread can be started
/// (a platform without threads) the state becomes <c>Unavailable</c> and readers read the clock.</para>
/// </remarks>
internal static class TickCache
{
    /// <summary>How often the ticker stores the tick.</summary>
    public const int Interval = 10;

    /// <summary>Ticks without a reader after which the ticker stops (one second).</summary>
    private const int IdleTicksBeforeStop = 100;

    private const int Stopped = 0;
    private const int Starting = 1;
    private const int Running = 2;
    private const int Unavailable = 3;

    private static long s_ticks;
    private static int s_state;
    private static int s_read;

    /// <summary>Gets the cached tick (see the remarks for how old it may be).</summary>
    public static long Now
    {
        get
        {
            if (Volatile.Read(ref s_state) == Running)
            {
                if (Volatile.Read(ref s_read) == 0)
                {
                    Volatile.Write(ref s_read, 1);
                }

                return Volatile.Read(ref s_ticks);
            }

            return NowWhileNotRunning();
        }
    }

    /// <summary>Gets whether the ticker thread is running (for tests).</summary>
    internal static bool IsRunning => Volatile.Read(ref s_state) == Running;

    private static long NowWhileNotRunning()
    {
        if (Volatile.Read(ref s_state) == Stopped && Interlocked.CompareExchange(ref s_state, Starting, Stopped) == Stopped)
        {
            Start();
        }

        return Environment.TickCount64;
    }

    private static void Start()
    {
        Volatile.Write(ref s_read, 1);
        try
        {
            var thread = new Thread(Tick) { IsBackground = true, Name = "PoolKit tick cache" };
            thread.UnsafeStart();
        }
#pragma warning disable CA1031 // No thread (a platform without threads, or out of resources): read the clock instead.
        catch (Exception)
#pragma warning restore CA1031
        {
            Volatile.Write(ref s_state, Unavailable);
            return;
        }
    }

    private static void Tick()
    {
        Volatile.Write(ref s_ticks, Environment.TickCount64);
        Volatile.Write(ref s_state, Running);
        int idle = 0;
        while (true)
        {
            Thread.Sleep(Interval);
            long now = Environment.TickCount64;
            Debug.Assert(now >= Volatile.Read(ref s_ticks), "the cached tick never goes back");
            Volatile.Write(ref s_ticks, now);
            if (Interlocked.Exchange(ref s_read, 0) != 0)
            {
                idle = 0;
            }
            else if (++idle >= IdleTicksBeforeStop)
            {
                // Readers that still see Running take a tick at most one interval old; later ones read the clock and
                // start a new thread.
                Volatile.Write(ref s_state, Stopped);
                return;
            }
        }
    }
}
