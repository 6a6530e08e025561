using Npgsql;
using NpgsqlTypes;

namespace PoolKit.Npgsql.Internal;

/// <summary>One column of an <see cref="NpgsqlRowInsert{TItem}"/>: its name, and how a unit's values are sent.</summary>
/// <typeparam name="TItem">The item type.</typeparam>
internal abstract class NpgsqlInsertColumn<TItem>(string name)
{
    public string Name { get; } = name;

    /// <summary>Creates the array parameter holding the column's value of every item of a unit.</summary>
    public abstract NpgsqlParameter CreateArrayParameter(ReadOnlySpan<TItem> items);

    /// <summary>Creates the parameter holding the column's value of one item (a unit of one row).</summary>
    public abstract NpgsqlParameter CreateParameter(TItem item);

    /// <summary>Writes one item's value into a binary COPY row.</summary>
    public abstract Task WriteAsync(NpgsqlBinaryImporter importer, TItem item, CancellationToken cancellationToken);
}

/// <summary>A column whose values are of type <typeparamref name="TValue"/>.</summary>
/// <typeparam name="TItem">The item type.</typeparam>
/// <typeparam name="TValue">The column's .NET type.</typeparam>
internal sealed class NpgsqlInsertColumn<TItem, TValue>(string name, Func<TItem, TValue> value, NpgsqlDbType? dbType) : NpgsqlInsertColumn<TItem>(name)
{
    public override NpgsqlParameter CreateArrayParameter(ReadOnlySpan<TItem> items)
    {
        var values = new TValue[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            values[i] = value(items[i]);
        }

        var parameter = new NpgsqlParameter<TValue[]> { TypedValue = values };
        if (dbType is { } type)
        {
            parameter.NpgsqlDbType = NpgsqlDbType.Array | type;
        }

        return parameter;
    }

    public override NpgsqlParameter CreateParameter(TItem item)
    {
        var parameter = new NpgsqlParameter<TValue> { TypedValue = value(item) };
        if (dbType is { } type)
        {
            parameter.NpgsqlDbType = type;
        }

        return parameter;
    }

    public override Task WriteAsync(NpgsqlBinaryImporter importer, TItem item, CancellationToken cancellationToken) =>
        dbType is { } type
            ? importer.WriteAsync(value(item), type, cancellationToken)
            : importer.WriteAsync(value(item), cancellationToken);
}
