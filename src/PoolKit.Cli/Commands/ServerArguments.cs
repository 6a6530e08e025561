using System.CommandLine;
using PoolKit.Cli.Infrastructure;

namespace PoolKit.Cli.Commands;

/// <summary>The options every command has for choosing its PostgreSQL: <c>--connection</c> and <c>--pg-bin</c>.</summary>
internal sealed class ServerArguments
{
    /// <summary>Gets <c>--connection</c>.</summary>
    public Option<string?> Connection { get; } = new("--connection", "-c")
    {
        Description = $"Npgsql connection string of the server to use, e.g. \"Host=localhost;Username=postgres;Password=...;Database=postgres\" (default: ${ServerOptions.EnvironmentVariable}, else a throwaway local PostgreSQL that is removed at the end). The password is never printed.",
        HelpName = "string",
    };

    /// <summary>Gets <c>--pg-bin</c>.</summary>
    public Option<string?> PostgresBin { get; } = new("--pg-bin")
    {
        Description = "Directory holding initdb, pg_ctl and postgres for the throwaway server (default: PATH, then /usr/lib/postgresql/<version>/bin).",
        HelpName = "dir",
    };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    /// <param name="command">The command.</param>
    public void AddTo(Command command)
    {
        command.Options.Add(Connection);
        command.Options.Add(PostgresBin);
    }

    /// <summary>Reads the options.</summary>
    /// <param name="parse">The parse result.</param>
    /// <param name="context">Gives the environment lookup.</param>
    /// <param name="maxConnections">The throwaway server's max_connections.</param>
    /// <returns>The server options.</returns>
    public ServerOptions Read(ParseResult parse, CliContext context, int maxConnections) => new()
    {
        ConnectionString = parse.GetValue(Connection),
        PostgresBinDirectory = parse.GetValue(PostgresBin),
        GetEnvironmentVariable = context.GetEnvironmentVariable,
        MaxConnections = maxConnections,
    };
}
