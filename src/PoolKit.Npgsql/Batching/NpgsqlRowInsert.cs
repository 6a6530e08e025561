using NpgsqlTypes;
using PoolKit.Npgsql.Internal;

namespace PoolKit.Npgsql;

/// <summary>
/// The rows of one table that the insert mode of the batch runner writes: the table, its columns and how each column's
/// value is read from an item, given once. A unit of work is then written as one statement
/// (<c>INSERT INTO table (columns) SELECT * FROM unnest($1, $2, ...)</c>, one array parameter per column) or, from
/// <see cref="CopyThreshold"/> items on, as one binary <c>COPY</c>.
/// </summary>
/// <typeparam name="TItem">The item type; one item is one row.</typeparam>
/// <remarks>
/// <para>The table and column names are written into the SQL as given: quote them yourself where PostgreSQL needs
/// it (<c>"Order"</c>). Each column's values are sent as one typed array; Npgsql infers the PostgreSQL type from the
/// .NET type (<see cref="long"/> as <c>bigint</c>, <see cref="string"/> as <c>text</c>, ...) unless a
/// <see cref="NpgsqlDbType"/> is given (for example <see cref="NpgsqlDbType.Jsonb"/>, or
/// <see cref="NpgsqlDbType.Timestamp"/> for a <see cref="DateTime"/> without a time zone).</para>
/// <para>Build it once, before a run: adding columns is not thread-safe; once a run has started it is only read.</para>
/// </remarks>
public sealed class NpgsqlRowInsert<TItem>
{
    private readonly List<NpgsqlInsertColumn<TItem>> _columns = [];
    private int _copyThreshold = DefaultCopyThreshold;

    /// <summary>Starts the description of rows of <paramref name="table"/>.</summary>
    /// <param name="table">The table, as it is written in SQL (optionally schema-qualified and quoted).</param>
    /// <exception cref="ArgumentException"><paramref name="table"/> is null or blank.</exception>
    public NpgsqlRowInsert(string table)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(table);
        Table = table;
    }

    /// <summary>The default of <see cref="CopyThreshold"/>: 5,000 items.</summary>
    public const int DefaultCopyThreshold = 5_000;

    /// <summary>Gets the table, as it is written in SQL.</summary>
    public string Table { get; }

    /// <summary>Gets the column names, in the order they were added.</summary>
    public IReadOnlyList<string> Columns => _columns.ConvertAll(static c => c.Name);

    /// <summary>Gets or sets from how many items a unit is written with binary <c>COPY</c> instead of one <c>INSERT</c>.</summary>
    /// <value>Default <see cref="DefaultCopyThreshold"/> (5,000). <see cref="int.MaxValue"/> never uses COPY; 1 always does.</value>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public int CopyThreshold
    {
        get => _copyThreshold;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(CopyThreshold));
            _copyThreshold = value;
        }
    }

    /// <summary>Adds a column whose value is read from each item by <paramref name="value"/>.</summary>
    /// <typeparam name="TValue">The column's .NET type.</typeparam>
    /// <param name="name">The column's name, as it is written in SQL.</param>
    /// <param name="value">Reads the column's value from an item; called once per item and attempt.</param>
    /// <param name="dbType">The PostgreSQL type, when Npgsql's inference from <typeparamref name="TValue"/> is not the one wanted. Default: inferred.</param>
    /// <returns>This instance, to add the next column.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or blank, or a column of that name was added already.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is null.</exception>
    public NpgsqlRowInsert<TItem> Column<TValue>(string name, Func<TItem, TValue> value, NpgsqlDbType? dbType = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(value);
        if (_columns.Exists(c => string.Equals(c.Name, name, StringComparison.Ordinal)))
        {
            throw new ArgumentException($"The column '{name}' was added already.", nameof(name));
        }

        _columns.Add(new NpgsqlInsertColumn<TItem, TValue>(name, value, dbType));
        return this;
    }

    /// <summary>Takes a snapshot for one run, checking that it has columns.</summary>
    internal NpgsqlInsertColumn<TItem>[] Snapshot() => _columns.Count > 0
        ? [.. _columns]
        : throw new ArgumentException($"The insert into '{Table}' has no columns: add them with Column(name, value).", "insert");
}
