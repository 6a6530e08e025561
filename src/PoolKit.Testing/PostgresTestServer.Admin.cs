using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Npgsql;

namespace PoolKit.Testing;

// Admin helpers: usable on every source. Each opens its own short-lived, non-pooled connection.
public sealed partial class PostgresTestServer
{
    /// <summary>
    /// Counts the server processes (rows of <c>pg_stat_activity</c>) whose <c>application_name</c> is
    /// <paramref name="applicationName"/>, not counting the helper's own admin connection.
    /// </summary>
    /// <param name="applicationName">The application name to count, as set by
    /// <see cref="GetConnectionString(string, bool)"/>.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The number of such backends. An external server's non-superuser may see only its own.</returns>
    /// <exception cref="ArgumentException"><paramref name="applicationName"/> is null or blank.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="NpgsqlException">The server could not be reached (stopped or frozen, for example).</exception>
    public async Task<int> CountBackendsAsync(string applicationName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(applicationName);
        ThrowIfDisposed();
        const string Sql = "SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()";
        return await ScalarAsync<int>(Sql, applicationName, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Terminates (<c>pg_terminate_backend</c>) every backend whose <c>application_name</c> is
    /// <paramref name="applicationName"/>; on PostgreSQL 14 and later waits up to 5 seconds for each to exit.
    /// </summary>
    /// <param name="applicationName">The application name whose backends to terminate.</param>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>How many backends were terminated (on PostgreSQL 13 and older: signalled).</returns>
    /// <exception cref="ArgumentException"><paramref name="applicationName"/> is null or blank.</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="NpgsqlException">The server could not be reached, or the role may not terminate them.</exception>
    public async Task<int> TerminateBackendsAsync(string applicationName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(applicationName);
        ThrowIfDisposed();
        NpgsqlConnection connection = await OpenAdminConnectionAsync(null, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            string terminate = connection.PostgreSqlVersion.Major >= 14 ? "pg_terminate_backend(pid, 5000)" : "pg_terminate_backend(pid)";

            // CASE, not AND: the planner may evaluate AND-ed conditions in any order, and pg_terminate_backend
            // evaluated first would terminate every backend, this admin connection included.
            string sql = "SELECT count(*)::int FROM pg_stat_activity WHERE "
                + $"CASE WHEN application_name = $1 AND pid <> pg_backend_pid() THEN {terminate} ELSE false END";
            NpgsqlCommand command = new(sql, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = applicationName });
                return (int)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }
        }
    }

    /// <summary>
    /// Creates a fresh, empty database, so a test does not share tables with others. Dispose the returned
    /// <see cref="TestDatabase"/> to drop it again.
    /// </summary>
    /// <param name="name">The database name: lowercase letters, digits and underscores, starting with a letter or
    /// underscore, at most 63 characters. Default <see langword="null"/>: a random <c>poolkit_test_…</c> name.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The new database, with its name and connection string; dispose it to drop it.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid name (the message does not repeat it).</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="PostgresException">The database exists already, or the role may not create databases.</exception>
    public async Task<TestDatabase> CreateDatabaseAsync(string? name = null, CancellationToken cancellationToken = default)
    {
        name ??= "poolkit_test_" + RandomNumberGenerator.GetHexString(12, lowercase: true);
        ValidateDatabaseName(name);
        ThrowIfDisposed();
        await ExecuteAsync($"CREATE DATABASE \"{name}\"", cancellationToken).ConfigureAwait(false);
        lock (_createdDatabases)
        {
            _createdDatabases.Add(name);
        }

        NpgsqlConnectionStringBuilder builder = CreateConnectionStringBuilder();
        builder.Database = name;
        return new TestDatabase(this, name, builder.ConnectionString);
    }

    /// <summary>
    /// Drops a database by name, first terminating the connections to it (<c>WITH (FORCE)</c>, PostgreSQL 13+).
    /// For a database from <see cref="CreateDatabaseAsync"/>, disposing its <see cref="TestDatabase"/> does the same.
    /// </summary>
    /// <param name="name">The database name (<see cref="TestDatabase.Name"/>; same rules as
    /// <see cref="CreateDatabaseAsync"/>), not a connection string.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>A task that completes when the database is gone; a missing database is not an error.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is not a valid name, for example a connection string
    /// (the message does not repeat it).</exception>
    /// <exception cref="ObjectDisposedException">The server was disposed.</exception>
    /// <exception cref="PostgresException">The role may not drop the database.</exception>
    public async Task DropDatabaseAsync(string name, CancellationToken cancellationToken = default)
    {
        ValidateDatabaseName(name);
        ThrowIfDisposed();
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", cancellationToken).ConfigureAwait(false);
        lock (_createdDatabases)
        {
            _createdDatabases.Remove(name);
        }
    }

    private async Task DropCreatedDatabasesAsync()
    {
        string[] names;
        lock (_createdDatabases)
        {
            names = [.. _createdDatabases];
        }

        foreach (string name in names)
        {
            try
            {
                await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", CancellationToken.None).ConfigureAwait(false);
            }
            catch (NpgsqlException)
            {
                // Best effort on a server we do not own: a leftover test database is harmless.
            }
        }
    }

    private static void ValidateDatabaseName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (DatabaseNamePattern().IsMatch(name))
        {
            return;
        }

        // The value is never repeated: callers have passed a connection string here, password included.
        string hint = name.Contains('=', StringComparison.Ordinal)
            ? " The value looks like a connection string: pass TestDatabase.Name, or dispose the TestDatabase that CreateDatabaseAsync returned."
            : string.Empty;
        throw new ArgumentException(
            string.Create(
                CultureInfo.InvariantCulture,
                $"The database name (of {name.Length} characters, not shown) is not a valid test database name: use 1 to 63 lowercase letters, digits and underscores, not starting with a digit.{hint}"),
            nameof(name));
    }

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$", RegexOptions.CultureInvariant)]
    private static partial Regex DatabaseNamePattern();

    private async Task<T> ScalarAsync<T>(string sql, string parameter, CancellationToken cancellationToken)
    {
        NpgsqlConnection connection = await OpenAdminConnectionAsync(null, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlCommand command = new(sql, connection);
            await using (command.ConfigureAwait(false))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = parameter });
                object? result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                return (T)Convert.ChangeType(result!, typeof(T), CultureInfo.InvariantCulture);
            }
        }
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        NpgsqlConnection connection = await OpenAdminConnectionAsync(null, cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlCommand command = new(sql, connection);
            await using (command.ConfigureAwait(false))
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Opens a non-pooled connection as the connection string's (super)user, named as the helper's own.</summary>
    private async Task<NpgsqlConnection> OpenAdminConnectionAsync(string? database, CancellationToken cancellationToken)
    {
        NpgsqlConnectionStringBuilder builder = CreateConnectionStringBuilder();
        builder.Pooling = false;
        builder.ApplicationName = AdminApplicationName;
        builder.Timeout = 10;
        builder.CommandTimeout = 30;
        if (database is not null)
        {
            builder.Database = database;
        }

        NpgsqlConnection connection = new(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>Gets whether <see cref="DisposeAsync"/> has been called.</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;
}
