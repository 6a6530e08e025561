using System.Globalization;
using Npgsql;

namespace PoolKit.Cli.Infrastructure;

/// <summary>Derives connection strings for the command's own connections and describes a server without its password.</summary>
internal static class ConnectionStrings
{
    /// <summary>Parses <paramref name="connectionString"/>, turning a bad one into a <see cref="CliException"/>.</summary>
    /// <param name="connectionString">The connection string.</param>
    /// <param name="origin">Where it came from, for the message (an option or a variable name).</param>
    /// <returns>A builder holding it.</returns>
    /// <exception cref="CliException">It is not a valid Npgsql connection string.</exception>
    public static NpgsqlConnectionStringBuilder Parse(string connectionString, string origin)
    {
        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            // The value itself is never echoed: it may hold a password.
            throw new CliException(
                $"The connection string from {origin} is not a valid Npgsql connection string ({FirstLine(ex.Message)}); "
                + "use the form 'Host=localhost;Port=5432;Username=postgres;Password=...;Database=postgres'.", ex);
        }
    }

    /// <summary>
    /// Gets <paramref name="connectionString"/> with the given application name (so its sessions can be found on the
    /// server) and Npgsql's own pool switched off (PoolKit is the pool, and the no-pool way must really open a
    /// connection per insert).
    /// </summary>
    /// <param name="connectionString">The base connection string.</param>
    /// <param name="applicationName">The application name to set.</param>
    /// <returns>The derived connection string (it still holds the password).</returns>
    public static string ForApplication(string connectionString, string applicationName)
    {
        NpgsqlConnectionStringBuilder builder = new(connectionString)
        {
            ApplicationName = applicationName,
            Pooling = false,
        };
        return builder.ConnectionString;
    }

    /// <summary>Describes the server of a connection string as <c>user@host:port/database</c>, never with its password.</summary>
    /// <param name="builder">The parsed connection string.</param>
    /// <returns>The description.</returns>
    public static string Describe(NpgsqlConnectionStringBuilder builder)
    {
        string host = string.IsNullOrEmpty(builder.Host) ? "localhost" : builder.Host;
        string user = string.IsNullOrEmpty(builder.Username) ? Environment.UserName : builder.Username;
        string database = string.IsNullOrEmpty(builder.Database) ? user : builder.Database;
        return string.Create(CultureInfo.InvariantCulture, $"{user}@{host}:{builder.Port}/{database}");
    }

    /// <summary>The first line of a message, trimmed.</summary>
    /// <param name="message">A message that may span lines.</param>
    /// <returns>Its first non-empty line.</returns>
    public static string FirstLine(string message)
    {
        foreach (string line in message.Split('\n'))
        {
            string trimmed = line.Trim();
            if (trimmed.Length > 0)
            {
                return trimmed;
            }
        }

        return message.Trim();
    }
}
