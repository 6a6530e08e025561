using Npgsql;
using PoolKit.Cli.Infrastructure;

namespace PoolKit.Cli.Sizing;

/// <summary>
/// The user's own SQL (<c>--sql FILE</c>), run as one transaction per operation: the whole file is sent as one
/// command (statements separated by semicolons, no parameters) between BEGIN and COMMIT. It creates nothing and
/// drops nothing.
/// </summary>
internal sealed class SqlFileWorkload : ISizingWorkload
{
    private readonly string _sql;

    private SqlFileWorkload(string path, string sql)
    {
        Path = path;
        _sql = sql;
    }

    /// <summary>Gets the file's path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public string Description => $"SQL file {System.IO.Path.GetFileName(Path)}, one transaction per run";

    /// <summary>Reads the file.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The workload.</returns>
    /// <exception cref="CliException">The file cannot be read or holds no SQL.</exception>
    public static SqlFileWorkload Load(string path)
    {
        string sql;
        try
        {
            sql = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"Cannot read the SQL file '{path}' ({ConnectionStrings.FirstLine(ex.Message)}): give a readable file with --sql.", ex);
        }

        if (string.IsNullOrWhiteSpace(sql))
        {
            throw new CliException($"The SQL file '{path}' is empty: put the statements of one transaction in it.");
        }

        return new SqlFileWorkload(path, sql);
    }

    /// <inheritdoc />
    public Task SetupAsync(NpgsqlConnection admin, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public async Task ExecuteAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(_sql, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public Task CleanupAsync(NpgsqlConnection admin) => Task.CompletedTask;
}
