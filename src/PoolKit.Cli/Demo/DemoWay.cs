namespace PoolKit.Cli.Demo;

/// <summary>The three ways the demo inserts the same rows.</summary>
internal enum DemoWay
{
    /// <summary>A new physical connection per insert (Npgsql with <c>Pooling=false</c>): the seed's cost.</summary>
    NoPool = 0,

    /// <summary>PoolKit's pool and <see cref="ParallelBatchRunner{TResource, TTransaction}"/>, one insert per transaction.</summary>
    PoolPerInsert = 1,

    /// <summary>The same runner committing a chunk of inserts per transaction, sent as one batch.</summary>
    PoolChunked = 2,
}
