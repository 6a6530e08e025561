namespace PoolKit.Npgsql;

/// <summary>Where a built-in mode's unit reads the record of its transaction (see <see cref="NpgsqlCommitSettler.ComposeUnit"/>).</summary>
internal enum UnitRecord
{
    /// <summary>No record: settling is off.</summary>
    None,

    /// <summary>A statement of its own, right after <c>BEGIN</c>.</summary>
    Separate,

    /// <summary>The unit's first statement returns it as its only row.</summary>
    InFirstStatement,
}
