using System.Net.Sockets;

namespace PoolKit.Testing.Containers;

/// <summary>Decides cheaply whether a Docker engine is reachable, before Testcontainers is asked to use it.</summary>
internal static class DockerEngine
{
    /// <summary>The default socket of a local Docker engine.</summary>
    internal const string DefaultSocket = "/var/run/docker.sock";

    /// <summary>
    /// Returns null when DOCKER_HOST is set or the default socket accepts a connection; otherwise why not.
    /// </summary>
    internal static async Task<string?> FindProblemAsync(Func<string, string?> getEnvironmentVariable, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(getEnvironmentVariable("DOCKER_HOST")))
        {
            return null;
        }

        if (OperatingSystem.IsWindows() || !File.Exists(DefaultSocket))
        {
            return $"no engine found (DOCKER_HOST is not set and {DefaultSocket} does not exist)";
        }

        using Socket socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using CancellationTokenSource timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(DefaultSocket), timeout.Token).ConfigureAwait(false);
            return null;
        }
        catch (SocketException ex)
        {
            return $"no engine answers on {DefaultSocket} ({ex.SocketErrorCode}) and DOCKER_HOST is not set";
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"{DefaultSocket} did not accept a connection within 2 s and DOCKER_HOST is not set";
        }
    }
}
