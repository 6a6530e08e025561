using System.Globalization;
using Npgsql;

namespace PoolKit.Cli.Demo;

/// <summary>
/// The demo's own table, with a unique name so it never touches the user's tables: created at the start, emptied
/// before each way, counted after it, dropped at the end. It has no primary key on purpose: a row inserted twice
/// would stay in the table, and the check (rows = distinct ids = committed) would catch it.
/// </summary>
internal sealed class ScratchTable
{
    private readonly NpgsqlConnection _admin;

    private ScratchTable(NpgsqlConnection admin, string name)
    {
        _admin = admin;
        Name = name;
        InsertSql = $"INSERT INTO {name} (id, payload) VALUES ($1, $2)";
        Rows = new PoolKit.Npgsql.NpgsqlRowInsert<long>(name)
            .Column("id", static id => id)
            .Column("payload", Payload);
        CopyRows = new PoolKit.Npgsql.NpgsqlRowInsert<long>(name) { CopyThreshold = 1 }
            .Column("id", static id => id)
            .Column("payload", Payload);
    }

    /// <summary>Gets the table's name (<c>poolkit_demo_</c> and 12 hex digits).</summary>
    public string Name { get; }

    /// <summary>Gets the INSERT of one row, with the id as <c>$1</c> and the payload as <c>$2</c>.</summary>
    public string InsertSql { get; }

    /// <summary>Gets the row for the runner's insert mode: the id and the payload, as <see cref="Bind"/> binds them.</summary>
    public PoolKit.Npgsql.NpgsqlRowInsert<long> Rows { get; }

    /// <summary>Gets the same row, written with binary COPY whatever the unit's size.</summary>
    public PoolKit.Npgsql.NpgsqlRowInsert<long> CopyRows { get; }

    /// <summary>The payload of row <paramref name="id"/>.</summary>
    /// <param name="id">The row's id.</param>
    /// <returns>The payload text.</returns>
    public static string Payload(long id) => string.Create(CultureInfo.InvariantCulture, $"row {id}");

    /// <summary>Creates the table through <paramref name="admin"/>.</summary>
    /// <param name="admin">An open connection, used for the table's DDL and counts (not concurrently).</param>
    /// <param name="cancellationToken">Cancels the creation.</param>
    /// <returns>The table.</returns>
    public static async Task<ScratchTable> CreateAsync(NpgsqlConnection admin, CancellationToken cancellationToken)
    {
        string name = "poolkit_demo_" + Guid.NewGuid().ToString("N")[..12];
        var table = new ScratchTable(admin, name);
        await table.ExecuteAsync($"CREATE TABLE {name} (id bigint NOT NULL, payload text NOT NULL)", cancellationToken);
        return table;
    }

    /// <summary>Binds one row's parameters: the id and a payload derived from it.</summary>
    /// <param name="parameters">The command's empty parameter collection.</param>
    /// <param name="id">The row's id.</param>
    public static void Bind(NpgsqlParameterCollection parameters, long id)
    {
        parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
        parameters.Add(new NpgsqlParameter<string> { TypedValue = Payload(id) });
    }

    /// <summary>Empties the table before a way runs.</summary>
    /// <param name="cancellationToken">Cancels the statement.</param>
    /// <returns>A task that completes when the table is empty.</returns>
    public Task TruncateAsync(CancellationToken cancellationToken) => ExecuteAsync($"TRUNCATE {Name}", cancellationToken);

    /// <summary>Counts the rows and the distinct ids in the table.</summary>
    /// <param name="cancellationToken">Cancels the query.</param>
    /// <returns>The row count and the distinct id count.</returns>
    public async Task<(long Rows, long DistinctIds)> CountAsync(CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT count(*), count(DISTINCT id) FROM {Name}", _admin);
        await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Drops the table (if it still exists).</summary>
    /// <returns>A task that completes when it is gone.</returns>
    public Task DropAsync() => ExecuteAsync($"DROP TABLE IF EXISTS {Name}", CancellationToken.None);

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, _admin);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
