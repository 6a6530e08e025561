using System.Net.Sockets;
using Npgsql;

namespace PoolKit.Cli.Infrastructure;

/// <summary>
/// Turns an exception into the one line the user sees: what went wrong and what to do. Messages name the server as
/// <c>user@host:port/database</c> and never contain a password.
/// </summary>
internal static class ErrorMessages
{
    /// <summary>Where a connection string can be given, for the advice in messages.</summary>
    public const string ConnectionAdvice = "--connection or POOLKIT_CONNECTION_STRING";

    /// <summary>Describes <paramref name="exception"/> in one line.</summary>
    /// <param name="exception">The failure.</param>
    /// <param name="server">The server it happened on (<c>user@host:port/database</c>), if known.</param>
    /// <returns>One line, without a stack trace or a password.</returns>
    public static string Describe(Exception exception, string? server)
    {
        Exception root = Unwrap(exception);
        string at = server is null ? "the server" : server;
        string line = root switch
        {
            CliException cli => cli.Message,
            PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } pg =>
                $"PostgreSQL refused the login to {at} ({pg.MessageText}): check the user name and password in {ConnectionAdvice}.",
            PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } pg =>
                $"{pg.MessageText} on {at}: name an existing database in {ConnectionAdvice}.",
            PostgresException { SqlState: PostgresErrorCodes.TooManyConnections } pg =>
                $"{at} refused a connection ({pg.MessageText}): lower --parallelism (or the largest --sizes), or raise the server's max_connections.",
            PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } pg =>
                $"{pg.MessageText} on {at}: connect as a user that may create tables in the database.",
            PostgresException pg =>
                $"PostgreSQL error {pg.SqlState} on {at}: {ConnectionStrings.FirstLine(pg.MessageText)}",
            NpgsqlException { InnerException: SocketException socket } =>
                $"Cannot reach PostgreSQL at {at} ({socket.SocketErrorCode}): check the host and port in {ConnectionAdvice}, and that the server is running.",
            NpgsqlException { InnerException: TimeoutException } or TimeoutException =>
                $"PostgreSQL at {at} did not answer in time: check the host and port in {ConnectionAdvice}, and that the server is running.",
            NpgsqlException npgsql =>
                $"Talking to PostgreSQL at {at} failed ({ConnectionStrings.FirstLine(npgsql.Message)}): check {ConnectionAdvice} and the server.",
            IOException io =>
                $"An input/output error: {ConnectionStrings.FirstLine(io.Message)}",
            UnauthorizedAccessException access =>
                $"Access denied: {ConnectionStrings.FirstLine(access.Message)}",
            _ => $"Unexpected {root.GetType().Name}: {ConnectionStrings.FirstLine(root.Message)}",
        };
        return line.ReplaceLineEndings(" ");
    }

    /// <summary>Looks through the pool's wrappers to the database's own error.</summary>
    private static Exception Unwrap(Exception exception)
    {
        Exception current = exception;
        while (current is AggregateException { InnerExceptions.Count: 1 } or ResourceCreationException
            && current.InnerException is { } inner)
        {
            current = inner;
        }

        return current;
    }
}
