using System.Globalization;
using System.Security.Cryptography;
using Npgsql;

namespace PoolKit.Cli.Sizing;

/// <summary>
/// A short read/write transaction in the manner of pgbench's default script, on a scratch schema of its own: update a
/// random account's balance, read it back, append a history row, commit. Each statement is its own round trip, as in
/// an ordinary application, so the time a connection is held includes the network waits a pool size must cover.
/// </summary>
internal sealed class PgbenchLikeWorkload : ISizingWorkload
{
    private readonly int _accounts;
    private readonly string _update;
    private readonly string _select;
    private readonly string _insert;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="accounts">How many account rows to create.</param>
    public PgbenchLikeWorkload(int accounts)
    {
        _accounts = accounts;
        Schema = "poolkit_size_" + Guid.NewGuid().ToString("N")[..12];
        _update = $"UPDATE {Schema}.accounts SET balance = balance + $2 WHERE id = $1";
        _select = $"SELECT balance FROM {Schema}.accounts WHERE id = $1";
        _insert = $"INSERT INTO {Schema}.history (account_id, delta) VALUES ($1, $2)";
    }

    /// <summary>Gets the scratch schema's name (<c>poolkit_size_</c> and 12 hex digits).</summary>
    public string Schema { get; }

    /// <inheritdoc />
    public string Description => string.Create(
        CultureInfo.InvariantCulture,
        $"built-in read/write transaction (update a random account of {_accounts:N0}, select it, insert a history row)");

    /// <inheritdoc />
    public async Task SetupAsync(NpgsqlConnection admin, CancellationToken cancellationToken)
    {
        string sql = $"""
            CREATE SCHEMA {Schema};
            CREATE TABLE {Schema}.accounts (id int PRIMARY KEY, balance bigint NOT NULL, filler char(84) NOT NULL DEFAULT '');
            INSERT INTO {Schema}.accounts (id, balance) SELECT g, 0 FROM generate_series(1, {_accounts.ToString(CultureInfo.InvariantCulture)}) AS g;
            CREATE TABLE {Schema}.history (account_id int NOT NULL, delta int NOT NULL, at timestamptz NOT NULL DEFAULT now());
            ANALYZE {Schema}.accounts;
            """;
        await using var command = new NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task ExecuteAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        // Not a secret: any uniform choice of account will do; RandomNumberGenerator keeps the analyzers quiet and is thread-safe.
        int account = RandomNumberGenerator.GetInt32(1, _accounts + 1);
        int delta = RandomNumberGenerator.GetInt32(-5_000, 5_001);
        await using NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand(_update, connection, transaction))
        {
            update.Parameters.Add(new NpgsqlParameter<int> { TypedValue = account });
            update.Parameters.Add(new NpgsqlParameter<long> { TypedValue = delta });
            await update.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var select = new NpgsqlCommand(_select, connection, transaction))
        {
            select.Parameters.Add(new NpgsqlParameter<int> { TypedValue = account });
            await select.ExecuteScalarAsync(cancellationToken);
        }

        await using (var insert = new NpgsqlCommand(_insert, connection, transaction))
        {
            insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = account });
            insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = delta });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    public async Task CleanupAsync(NpgsqlConnection admin)
    {
        await using var command = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {Schema} CASCADE", admin);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }
}
