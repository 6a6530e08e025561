using Npgsql;
using PoolKit.Testing;
using Spectre.Console;

namespace PoolKit.Cli.Infrastructure;

/// <summary>
/// The PostgreSQL the command runs against: the one named by <c>--connection</c> or <c>POOLKIT_CONNECTION_STRING</c>,
/// or else a throwaway local cluster started with <see cref="PostgresTestServer"/> and removed on disposal.
/// </summary>
internal sealed class DatabaseServer : IAsyncDisposable
{
    private readonly PostgresTestServer? _throwaway;

    private DatabaseServer(string connectionString, string description, PostgresTestServer? throwaway)
    {
        ConnectionString = connectionString;
        Description = description;
        _throwaway = throwaway;
    }

    /// <summary>Gets the connection string (it holds the password: never print it).</summary>
    public string ConnectionString { get; }

    /// <summary>Gets <c>user@host:port/database</c>, safe to print.</summary>
    public string Description { get; }

    /// <summary>Gets whether the server is a throwaway cluster this object started (and removes).</summary>
    public bool IsThrowaway => _throwaway is not null;

    /// <summary>
    /// Provides the server and checks that it accepts a login, so a wrong host or password fails here with one line.
    /// </summary>
    /// <param name="options">Where the server comes from.</param>
    /// <param name="console">Where to say which server is used.</param>
    /// <param name="cancellationToken">Cancels the start; a half-started cluster is removed.</param>
    /// <returns>The server; dispose it to remove a throwaway cluster.</returns>
    /// <exception cref="CliException">No server could be provided or reached; the message says what to do.</exception>
    public static async Task<DatabaseServer> AcquireAsync(ServerOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        string? given = options.ConnectionString;
        string origin = "--connection";
        if (string.IsNullOrWhiteSpace(given))
        {
            given = options.GetEnvironmentVariable(ServerOptions.EnvironmentVariable);
            origin = ServerOptions.EnvironmentVariable;
        }

        if (!string.IsNullOrWhiteSpace(given))
        {
            NpgsqlConnectionStringBuilder builder = ConnectionStrings.Parse(given, origin);
            string description = ConnectionStrings.Describe(builder);
            await CheckLoginAsync(builder.ConnectionString, description, cancellationToken);
            console.MarkupLineInterpolated($"[grey]server:[/] {description} (from {origin})");
            return new DatabaseServer(builder.ConnectionString, description, throwaway: null);
        }

        PostgresTestServer server = await StartThrowawayAsync(options, console, cancellationToken);
        try
        {
            string description = ConnectionStrings.Describe(server.CreateConnectionStringBuilder());
            await CheckLoginAsync(server.ConnectionString, description, cancellationToken);
            return new DatabaseServer(server.ConnectionString, description, server);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Removes the throwaway cluster, if this object started one.</summary>
    /// <returns>A task that completes when it is gone.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_throwaway is not null)
        {
            await _throwaway.DisposeAsync();
        }
    }

    private static async Task<PostgresTestServer> StartThrowawayAsync(ServerOptions options, IAnsiConsole console, CancellationToken cancellationToken)
    {
        var settings = new PostgresTestServerOptions
        {
            // The command's own variable is POOLKIT_CONNECTION_STRING (read above); the tests' variable is not ours.
            EnvironmentVariable = null,
            UseDocker = false,
            MaxConnections = options.MaxConnections,
            BinarySearchPaths = options.PostgresBinDirectory is { } bin ? [bin] : null,
            GetEnvironmentVariable = options.GetEnvironmentVariable,
        };

        try
        {
            PostgresTestServer server = await console.Status().StartAsync(
                "starting a throwaway PostgreSQL (initdb + pg_ctl)...",
                _ => PostgresTestServer.StartAsync(settings, cancellationToken));
            console.MarkupLineInterpolated($"[grey]server:[/] throwaway local PostgreSQL {ConnectionStrings.Describe(server.CreateConnectionStringBuilder())} (removed at the end)");
            return server;
        }
        catch (PostgresUnavailableException ex)
        {
            string where = options.PostgresBinDirectory is { } directory
                ? $"in {directory}"
                : "on PATH or under /usr/lib/postgresql/<version>/bin";
            throw new CliException(
                $"No PostgreSQL to run against: initdb, pg_ctl and postgres were not found together {where}. "
                + $"Install the server binaries (apt-get install postgresql), point --pg-bin at their directory, or give a server with {ErrorMessages.ConnectionAdvice}.", ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not CliException)
        {
            throw new CliException(
                $"Could not start a throwaway PostgreSQL ({ConnectionStrings.FirstLine(ex.Message)}); give a server with {ErrorMessages.ConnectionAdvice} instead.", ex);
        }
    }

    private static async Task CheckLoginAsync(string connectionString, string description, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(ConnectionStrings.ForApplication(connectionString, "poolkit check"));
            await connection.OpenAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            throw new CliException(ErrorMessages.Describe(ex, description), ex);
        }
    }
}
