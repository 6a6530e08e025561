using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Npgsql;
using Npgsql.Internal;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// Tells, without a round trip, whether the server has ended the session of an idle connection: terminated
/// (<c>pg_terminate_backend</c>, a shutdown or restart, <c>idle_session_timeout</c>) or cut (a load balancer's reset).
/// </summary>
/// <remarks>
/// <para>PostgreSQL says goodbye before it closes: it sends an ErrorResponse (57P01, 57P02, 57P05...) and then
/// closes the socket. An idle connection has nothing outstanding on the wire (a queued reset is not sent until the next
/// command), so a socket that is readable at all is the first sign. One zero-timeout <c>poll(2)</c> answers the common
/// case (nothing to read: alive). When something is readable, the bytes are looked at without consuming them
/// (<see cref="SocketFlags.Peek"/>): end of stream or a reset means ended; an ErrorResponse among the waiting messages
/// means ended; anything else (a NotificationResponse for a LISTEN the queued reset has not undone yet, a
/// NoticeResponse, a ParameterStatus) is left for Npgsql to read and the connection is alive. Under TLS or GSS
/// encryption the bytes cannot be read, so readable data counts as ended: at worst a healthy connection with a pending
/// notification is replaced, never one whose server left is handed out.</para>
/// <para>The socket is Npgsql's internal <c>NpgsqlConnector._socket</c>, reached through
/// <see cref="UnsafeAccessorAttribute"/> like <see cref="NpgsqlPrependedReset"/>. <see cref="Probe"/> checks once per
/// process that the members bind; where they do not, the check is off (every connection counts as alive, as before)
/// and the pool logs it when it is built.</para>
/// <para>Whether the internals are usable is kept by an <see cref="InternalsProbe"/>.</para>
/// </remarks>
#pragma warning disable NPG9001 // NpgsqlConnector is experimental: read through pinned accessors, with a fallback.
internal static class NpgsqlServerHangup
{
    // What a peek looks at first; a longer look (rented) only when notifications are waiting in front.
    private const int PeekBytes = 256;
    private const int MaxPeekBytes = 64 * 1024;

    private static readonly InternalsProbe s_probe = new(MembersBind);

    /// <summary>Gets whether the check can run in this process (probing once if needed).</summary>
    public static bool IsAvailable => s_probe.IsAvailable;

    /// <summary>Checks, without a connection, that every internal member binds.</summary>
    /// <returns>Whether the check is available.</returns>
    public static bool Probe()
        => s_probe.Probe();

    /// <summary>
    /// Whether the server has ended the session of an open, idle connection (nothing outstanding on the wire).
    /// </summary>
    /// <returns><see langword="true"/> if the connection must not be handed out; <see langword="false"/> if it looks
    /// alive, or if the check is unavailable.</returns>
    public static bool HasEnded(NpgsqlConnection connection)
    {
        if (!IsAvailable)
        {
            return false;
        }

        try
        {
            NpgsqlConnector? connector = GetConnector(connection);
            Socket? socket = connector is null ? null : GetSocket(connector);
            if (socket is null)
            {
                return false;
            }

            // PERF: one poll(2) with a zero timeout is the whole check for a live idle connection (see the benchmark
            // "Liveness" rows in tests/PoolKit.Benchmarks).
            if (!socket.Poll(0, SelectMode.SelectRead))
            {
                return false;
            }

            return Inspect(socket, GetIsSslEncrypted(connector!) || GetIsGssEncrypted(connector!));
        }
        catch (MissingMemberException)
        {
            s_probe.TurnOff();
            return false;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Whether bytes are waiting unread on the connection's socket (for tests).</summary>
    /// <returns><see langword="true"/> if the socket has bytes to read.</returns>
    internal static bool HasWaitingBytes(NpgsqlConnection connection)
    {
        NpgsqlConnector? connector = GetConnector(connection);
        Socket? socket = connector is null ? null : GetSocket(connector);
        return socket is not null && socket.Available > 0;
    }

    /// <summary>
    /// Whether the server's messages waiting on an idle connection include an ErrorResponse (on an idle connection,
    /// only ever the server's last words before it closes).
    /// </summary>
    /// <param name="waiting">The bytes at the head of the socket's receive queue.</param>
    /// <param name="complete">Whether <paramref name="waiting"/> is everything that is queued.</param>
    /// <returns><see langword="true"/> for an ErrorResponse or a malformed message; <see langword="false"/> when every
    /// message seen is another kind; <see langword="null"/> when more bytes are queued than were looked at and the
    /// look ran out before finding one.</returns>
    internal static bool? ContainsErrorResponse(ReadOnlySpan<byte> waiting, bool complete)
    {
        int position = 0;
        while (position < waiting.Length)
        {
            byte type = waiting[position];
            if (type == (byte)'E')
            {
                return true;
            }

            if (position + 5 > waiting.Length)
            {
                break;
            }

            int length = BinaryPrimitives.ReadInt32BigEndian(waiting.Slice(position + 1, 4));
            if (length < 4)
            {
                // Not PostgreSQL's protocol any more: whatever this is, the connection cannot be used.
                return true;
            }

            position += 1 + length;
        }

        // Ran out of bytes: as far as they go, no ErrorResponse.
        return complete ? false : null;
    }

    private static bool Inspect(Socket socket, bool encrypted)
    {
        int available = socket.Available;
        if (available == 0)
        {
            // Readable with nothing to read: the server closed the connection (FIN) or it was reset.
            return true;
        }

        if (encrypted)
        {
            return true;
        }

        Span<byte> head = stackalloc byte[PeekBytes];
        int read = socket.Receive(head, SocketFlags.Peek);
        if (read == 0)
        {
            return true;
        }

        bool? found = ContainsErrorResponse(head[..read], complete: read >= available);
        if (found is not null)
        {
            return found.Value;
        }

        // Rare: messages (notifications) longer than the first look are waiting. Look at all of them, up to a bound.
        byte[] rented = ArrayPool<byte>.Shared.Rent(Math.Min(available, MaxPeekBytes));
        try
        {
            read = socket.Receive(rented, 0, Math.Min(available, rented.Length), SocketFlags.Peek);
            return read == 0 || ContainsErrorResponse(rented.AsSpan(0, read), complete: true) == true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool MembersBind()
    {
        try
        {
            using var unopened = new NpgsqlConnection();
            _ = GetConnector(unopened);
        }
        catch (MissingMemberException)
        {
            return false;
        }

        // Called on null: a member that binds throws NullReferenceException when it runs; one that does not bind
        // throws MissingMemberException before.
        return Binds(static () => GetSocket(null!))
            && Binds(static () => GetIsSslEncrypted(null!))
            && Binds(static () => GetIsGssEncrypted(null!));
    }

    private static bool Binds<TResult>(Func<TResult> call)
    {
        try
        {
            _ = call();
            return true;
        }
        catch (NullReferenceException)
        {
            return true;
        }
        catch (MissingMemberException)
        {
            return false;
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_Connector")]
    private static extern NpgsqlConnector? GetConnector(NpgsqlConnection connection);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_socket")]
    private static extern ref Socket? GetSocket(NpgsqlConnector connector);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_IsSslEncrypted")]
    private static extern bool GetIsSslEncrypted(NpgsqlConnector connector);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "get_IsGssEncrypted")]
    private static extern bool GetIsGssEncrypted(NpgsqlConnector connector);
}
#pragma warning restore NPG9001
