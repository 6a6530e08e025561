namespace PoolKit.Cli.Demo;

/// <summary>The ways the demo inserts the same rows.</summary>
internal enum DemoWay
{
    /// <summary>A new physical connection per insert (Npgsql with <c>Pooling=false</c>): run on a small sample only.</summary>
    NoPool = 0,

    /// <summary>PoolKit's pool and <see cref="ParallelBatchRunner{TResource, TTransaction}"/>, one insert per transaction.</summary>
    PoolPerInsert = 1,

    /// <summary>The same runner committing a chunk of inserts per transaction, sent as one batch.</summary>
    PoolChunked = 2,

    /// <summary>The seed's pattern on Npgsql's own pool with its defaults: a connection per autocommitted insert. The baseline.</summary>
    NpgsqlPool = 3,

    /// <summary>The same pattern and code on PoolKit's <see cref="PoolKit.Npgsql.NpgsqlConnectionPool"/> with its defaults.</summary>
    PoolKitPerInsert = 4,

    /// <summary>Hand-written on Npgsql's pool: one autocommitted multi-row <c>INSERT ... VALUES</c> per chunk. The anchor of the chunked ways.</summary>
    HandChunked = 5,

    /// <summary>The runner's insert mode, a chunk per transaction written as one <c>INSERT ... SELECT * FROM unnest(...)</c>.</summary>
    PoolInsert = 6,

    /// <summary>Hand-written: one binary COPY stream of every row on one connection. The anchor of the COPY way.</summary>
    HandCopy = 7,

    /// <summary>The runner's insert mode with units of 10,000 rows, each written with binary COPY.</summary>
    PoolCopy = 8,
}
