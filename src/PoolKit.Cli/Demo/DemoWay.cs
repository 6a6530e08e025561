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
}
