using System.Collections.Concurrent;

namespace PoolKit.Tests.Fakes;

/// <summary>An in-memory "database" with transactions: rows become visible only on commit, and every commit of a key is counted.</summary>
public sealed class FakeDatabase
{
    private int _nextConnection;

    public ConcurrentDictionary<long, int> Rows { get; } = new();

    /// <summary>Decides, per commit, whether to fail it: return an exception to throw; <see cref="CommitLostException"/> is thrown after the rows are applied.</summary>
    public Func<FakeTransaction, Exception?>? CommitFault { get; set; }

    public int ConnectionsOpened => Volatile.Read(ref _nextConnection);

    public FakeConnection Open() => new(this, Interlocked.Increment(ref _nextConnection));

    internal void Commit(FakeTransaction transaction)
    {
        Exception? fault = CommitFault?.Invoke(transaction);
        if (fault is not null and not CommitLostException)
        {
            throw fault;
        }

        foreach (long key in transaction.Pending)
        {
            Rows.AddOrUpdate(key, 1, (_, n) => n + 1);
        }

        if (fault is not null)
        {
            throw fault;
        }
    }
}

public sealed class FakeConnection(FakeDatabase database, int id)
{
    public FakeDatabase Database { get; } = database;

    public int Id { get; } = id;

    public bool Broken { get; set; }
}

public sealed class FakeTransaction(FakeConnection connection)
{
    public FakeConnection Connection { get; } = connection;

    public List<long> Pending { get; } = [];
}

/// <summary>A serialization failure or deadlock: nothing committed, try again.</summary>
public sealed class TransientDbException(string message) : Exception(message);

/// <summary>The connection died: nothing committed (before commit), connection unusable.</summary>
public sealed class ConnectionLostException(string message) : Exception(message);

/// <summary>The connection died during COMMIT: nobody knows whether it committed.</summary>
public sealed class CommitLostException(string message) : Exception(message);

/// <summary>A bad item: fails every time.</summary>
public sealed class PoisonItemException(string message) : Exception(message);

public sealed class FakeTransactionHandler : ITransactionHandler<FakeConnection, FakeTransaction>
{
    public ValueTask<FakeTransaction> BeginAsync(FakeConnection resource, CancellationToken cancellationToken) => new(new FakeTransaction(resource));

    public ValueTask CommitAsync(FakeTransaction transaction, CancellationToken cancellationToken)
    {
        transaction.Connection.Database.Commit(transaction);
        return default;
    }

    /// <summary>When set, every rollback hangs until its token is canceled (a frozen server).</summary>
    public bool RollbackHangs { get; set; }

    /// <summary>When set, a rollback registers a callback that throws on its token (a driver's careless registration).</summary>
    public bool RollbackRegistersThrowingCallback { get; set; }

    private int _rollbacksStarted;

    public int RollbacksStarted => Volatile.Read(ref _rollbacksStarted);

    public async ValueTask RollbackAsync(FakeTransaction transaction, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _rollbacksStarted);
        if (RollbackRegistersThrowingCallback)
        {
            cancellationToken.Register(static () => throw new InvalidOperationException("a rollback's callback that throws"));
        }

        if (RollbackHangs)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        transaction.Pending.Clear();
    }

    public BatchErrorKind Classify(Exception exception, BatchPhase phase) => exception switch
    {
        TransientDbException => BatchErrorKind.Transient,
        ConnectionLostException when phase != BatchPhase.Commit => BatchErrorKind.Transient,
        CommitLostException => BatchErrorKind.OutcomeUnknown,
        _ => BatchErrorKind.Permanent,
    };

    /// <summary>When set, <see cref="IsConnectionBroken"/> throws (a careless classifier).</summary>
    public bool IsConnectionBrokenThrows { get; set; }

    public bool IsConnectionBroken(Exception exception) =>
        IsConnectionBrokenThrows ? throw new InvalidOperationException("classifier bug") : exception is ConnectionLostException or CommitLostException;
}

public sealed class FakeConnectionPolicy(FakeDatabase database) : ResourcePolicy<FakeConnection>
{
    private int _destroyed;

    public int Destroyed => Volatile.Read(ref _destroyed);

    public override ValueTask<FakeConnection> CreateAsync(CancellationToken cancellationToken) => new(database.Open());

    public override bool IsUsable(FakeConnection resource) => !resource.Broken;

    public override ValueTask DestroyAsync(FakeConnection resource)
    {
        Interlocked.Increment(ref _destroyed);
        return default;
    }
}
