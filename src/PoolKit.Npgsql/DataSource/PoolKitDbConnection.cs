using System.ComponentModel;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;
using Npgsql;
using PoolKit.Npgsql.Internal;

namespace PoolKit.Npgsql;

/// <summary>
/// A connection of a <see cref="PoolKitDataSource"/>: opening it leases a pooled <see cref="NpgsqlConnection"/>,
/// closing or disposing it returns the lease. The physical connection stays open in the pool.
/// </summary>
/// <remarks>
/// <para>Commands it creates (<see cref="PoolKitDbCommand"/>) run as Npgsql commands on the leased connection;
/// batches (<see cref="PoolKitDbBatch"/>) as <see cref="NpgsqlBatch"/>es; transactions are
/// <see cref="PoolKitDbTransaction"/>s over <see cref="NpgsqlTransaction"/>s. Use <see cref="NpgsqlConnection"/> for
/// Npgsql-only APIs, and never close or dispose that inner connection: close this one. Like Npgsql's own connection,
/// that inner connection (and the Npgsql command, batch or transaction handed out with it) is valid for one open:
/// once this connection closes, a kept reference is a closed connection, never the next user's session.</para>
/// <para>Each open is isolated from the next, as with Npgsql's pool: closing closes a reader left open, rolls back a
/// transaction left open and detaches it (a late <c>Dispose</c> of it does nothing), and returns the lease; the pool
/// then removes the <c>Notice</c>/<c>Notification</c> handlers added to the inner connection and resets the session as
/// its <see cref="NpgsqlResetMode"/> says. A connection that Npgsql reports broken reads <see cref="ConnectionState.Closed"/>
/// and is destroyed on return; opening again leases another.</para>
/// <para>Opening inside a <see cref="System.Transactions.TransactionScope"/> throws <see cref="NotSupportedException"/>
/// (unless the connection string says <c>Enlist=false</c>): pooled connections do not enlist.</para>
/// <para>Not thread-safe, like every <see cref="DbConnection"/>. <see cref="ChangeDatabase"/> and setting
/// <see cref="ConnectionString"/> are not supported: the pool decides where connections go.</para>
/// </remarks>
[DesignerCategory("")]
public sealed class PoolKitDbConnection : DbConnection
{
    private static readonly StateChangeEventArgs s_closedToOpen = new(ConnectionState.Closed, ConnectionState.Open);
    private static readonly StateChangeEventArgs s_openToClosed = new(ConnectionState.Open, ConnectionState.Closed);

    private readonly NpgsqlConnectionPool _pool;
    private PoolLease<NpgsqlConnection> _lease;

    // What this open runs on: the pooled connection, or, once NpgsqlConnection (or a transaction's NpgsqlTransaction)
    // was read, the object its connector was lent to (_lent). Close moves the connector back into _pooled and leaves
    // _lent closed, so a raw reference kept past Close can never run on the next user's session.
    private NpgsqlConnection? _connection;
    private NpgsqlConnection? _pooled;
    private NpgsqlConnection? _lent;
    private object? _lentConnector;

    // The raw pooled connection was handed out because the handover is unavailable: destroy it on return.
    private bool _destroyOnReturn;

    // What this open began or runs, undone or closed by Close so nothing of it reaches the next open.
    private PoolKitDbTransaction? _transaction;
    private NpgsqlDataReader? _reader;

    // StateChange handlers are kept here (not in DbConnection's field) so that the inner connection's own StateChange
    // (raised when Npgsql finds the session dead) is forwarded only when someone listens: no delegate per open otherwise.
    private StateChangeEventHandler? _stateChange;
    private StateChangeEventHandler? _forwardInnerStateChange;

    // Whether Closed was already reported for this open (the inner connection broke and said so).
    private bool _closedReported;
    private bool _disposed;

    internal PoolKitDbConnection(NpgsqlConnectionPool pool)
    {
        _pool = pool;
    }

    /// <summary>
    /// Gets the Npgsql connection this open runs on, for Npgsql-only APIs (binary COPY, notifications...). Do not close
    /// or dispose it: close this connection.
    /// </summary>
    /// <remarks>
    /// <para>Valid until this connection closes, like a connection of Npgsql's own pool: a reference kept past
    /// <c>Close</c>/<c>Dispose</c> is then a closed connection (its <see cref="NpgsqlConnection.State"/> reads
    /// <see cref="ConnectionState.Closed"/> and its commands throw <see cref="InvalidOperationException"/>); it never
    /// runs on the server session of whoever opens next. Opening it again opens a connection of its own, outside the
    /// pool.</para>
    /// <para>The first read in an open moves the pooled session into a fresh <see cref="global::Npgsql.NpgsqlConnection"/>
    /// object for the rest of that open (one small allocation; an open that never reads this property pays nothing).
    /// Should a future Npgsql version not allow that, the pooled connection itself is returned and destroyed when this
    /// connection closes instead of going back to the pool.</para>
    /// </remarks>
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    public NpgsqlConnection NpgsqlConnection => _lent ?? LendRaw();

    /// <summary>Gets the pool the connection leases from.</summary>
    public NpgsqlConnectionPool Pool => _pool;

    /// <summary>Gets the pool's connection string without its password. Setting it is not supported.</summary>
    /// <exception cref="NotSupportedException">On set: the pool decides where connections go.</exception>
    [AllowNull]
    public override string ConnectionString
    {
        get => _pool.ConnectionStringWithoutPassword;
        set => throw new NotSupportedException("A PoolKit connection's connection string is the pool's; configure the pool instead.");
    }

    /// <inheritdoc />
    public override string Database => _connection?.Database ?? _pool.InnerDataSource.CreateConnection().Database;

    /// <inheritdoc />
    public override string DataSource => _connection?.DataSource ?? _pool.InnerDataSource.CreateConnection().DataSource;

    /// <inheritdoc />
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    public override string ServerVersion => Inner.ServerVersion;

    /// <summary>
    /// Gets <see cref="ConnectionState.Open"/> while a pooled connection is leased and Npgsql reports it open, else
    /// <see cref="ConnectionState.Closed"/>: like Npgsql's, a connection whose session died (Npgsql reports it broken)
    /// reads Closed, which Dapper and EF Core take as the cue to open it again; <see cref="Open"/> then returns the dead
    /// one and leases another.
    /// </summary>
    public override ConnectionState State => _connection is { } connection && (connection.FullState & ConnectionState.Open) != 0
        ? ConnectionState.Open
        : ConnectionState.Closed;

    /// <summary>Occurs when the state changes: on open, on close, and when Npgsql finds the leased session dead (Open to Closed).</summary>
    public override event StateChangeEventHandler? StateChange
    {
        add
        {
            bool first = _stateChange is null;
            _stateChange += value;
            if (first && _stateChange is not null && _connection is { } connection)
            {
                connection.StateChange += ForwardInnerStateChange;
            }
        }

        remove
        {
            _stateChange -= value;
            if (_stateChange is null && _connection is { } connection)
            {
                connection.StateChange -= ForwardInnerStateChange;
            }
        }
    }

    /// <inheritdoc />
    protected override DbProviderFactory DbProviderFactory => NpgsqlFactory.Instance;

    /// <summary>Gets <see langword="true"/>: batches run as <see cref="NpgsqlBatch"/>es on the leased connection.</summary>
    public override bool CanCreateBatch => true;

    private StateChangeEventHandler ForwardInnerStateChange => _forwardInnerStateChange ??= OnInnerStateChange;

    /// <summary>Leases a pooled connection, blocking while the pool is exhausted. Prefer <see cref="OpenAsync"/>.</summary>
    /// <exception cref="InvalidOperationException">The connection is already open.</exception>
    /// <exception cref="ObjectDisposedException">The connection is disposed.</exception>
    /// <exception cref="NotSupportedException">A <see cref="System.Transactions.TransactionScope"/> is active and the connection string does not say <c>Enlist=false</c>.</exception>
    /// <exception cref="NpgsqlException">No connection could be obtained.</exception>
    public override void Open()
    {
        BeforeOpen();
        PoolLease<NpgsqlConnection> lease = _pool.TryAcquire(out PoolLease<NpgsqlConnection> idle)
            ? idle
            : _pool.AcquireAsync().AsTask().GetAwaiter().GetResult();
        Opened(lease);
    }

    /// <summary>Leases a pooled connection.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the connection is open.</returns>
    /// <exception cref="InvalidOperationException">The connection is already open.</exception>
    /// <exception cref="ObjectDisposedException">The connection is disposed.</exception>
    /// <exception cref="NotSupportedException">A <see cref="System.Transactions.TransactionScope"/> is active and the connection string does not say <c>Enlist=false</c>.</exception>
    /// <exception cref="NpgsqlException">No connection could be obtained.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    public override async Task OpenAsync(CancellationToken cancellationToken)
    {
        BeforeOpen();
        Opened(await _pool.AcquireAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Returns the leased connection to the pool, after closing a reader left open and rolling back a transaction
    /// left open (as Npgsql's <c>Close</c> does). Does nothing when closed.
    /// </summary>
    public override void Close()
    {
        NpgsqlConnection? connection = _connection;
        if (connection is null)
        {
            return;
        }

        try
        {
            if (_reader is { IsClosed: false } reader && IsOpen(connection))
            {
                reader.Close();
            }

            // Npgsql's own Close rolls back; do the same, so ResetMode None never hands out an open transaction.
            if (_transaction is { IsLive: true } transaction && IsOpen(connection))
            {
                transaction.Inner.Dispose();
            }
        }
        finally
        {
            Release(connection);
        }
    }

    /// <summary>
    /// Returns the leased connection to the pool, after closing a reader left open and rolling back a transaction
    /// left open (as Npgsql's <c>CloseAsync</c> does). Does nothing when closed.
    /// </summary>
    /// <returns>A task that completes when the lease is returned.</returns>
    public override async Task CloseAsync()
    {
        NpgsqlConnection? connection = _connection;
        if (connection is null)
        {
            return;
        }

        try
        {
            if (_reader is { IsClosed: false } reader && IsOpen(connection))
            {
                await reader.CloseAsync().ConfigureAwait(false);
            }

            if (_transaction is { IsLive: true } transaction && IsOpen(connection))
            {
                await transaction.Inner.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            Release(connection);
        }
    }

    /// <summary>Returns the leased connection to the pool (same as <see cref="CloseAsync"/>).</summary>
    /// <returns>A task that completes when the lease is returned.</returns>
    public override async ValueTask DisposeAsync()
    {
        _disposed = true;
        await CloseAsync().ConfigureAwait(false);

        // The base disposes synchronously; Close has nothing left to do by then.
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Not supported: the pool decides which database its connections use.</summary>
    /// <param name="databaseName">Ignored.</param>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override void ChangeDatabase(string databaseName) =>
        throw new NotSupportedException("ChangeDatabase would leave a pooled session on another database; use a pool for that database.");

    /// <summary>Creates a command bound to this connection (it runs on the leased connection once this one is open).</summary>
    /// <returns>The command.</returns>
    public new PoolKitDbCommand CreateCommand() => new() { Connection = this };

    /// <summary>Creates a batch bound to this connection (it runs as an <see cref="NpgsqlBatch"/> on the leased connection once this one is open).</summary>
    /// <returns>The batch.</returns>
    public new PoolKitDbBatch CreateBatch() => new() { Connection = this };

    /// <summary>Begins a transaction on the leased connection.</summary>
    /// <param name="isolationLevel">The isolation level. Default: the server's.</param>
    /// <returns>The transaction (Npgsql's, wrapped so that it names this connection).</returns>
    /// <exception cref="InvalidOperationException">The connection is not open, or a transaction is already in progress.</exception>
    public new PoolKitDbTransaction BeginTransaction(IsolationLevel isolationLevel = IsolationLevel.Unspecified) =>
        Track(Inner.BeginTransaction(isolationLevel));

    /// <summary>Begins a transaction on the leased connection.</summary>
    /// <param name="isolationLevel">The isolation level.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The transaction (Npgsql's, wrapped so that it names this connection).</returns>
    /// <exception cref="InvalidOperationException">The connection is not open, or a transaction is already in progress.</exception>
    public new async ValueTask<PoolKitDbTransaction> BeginTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken = default) =>
        Track(await Inner.BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false));

    /// <summary>Begins a transaction on the leased connection.</summary>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>The transaction (Npgsql's, wrapped so that it names this connection).</returns>
    /// <exception cref="InvalidOperationException">The connection is not open, or a transaction is already in progress.</exception>
    public new ValueTask<PoolKitDbTransaction> BeginTransactionAsync(CancellationToken cancellationToken = default) =>
        BeginTransactionAsync(IsolationLevel.Unspecified, cancellationToken);

    /// <summary>
    /// Reloads the database's types (after <c>CREATE TYPE</c>, an extension, ...) on the leased connection and clears
    /// the pool, so that every other pooled connection, which still has the old types, is replaced before it is
    /// handed out again (a leased one when it comes back). The same reach as Npgsql's own <c>ReloadTypes</c>.
    /// </summary>
    /// <remarks>Call this one, not <see cref="NpgsqlConnection"/>'s: that reaches only the leased connection.</remarks>
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    public void ReloadTypes()
    {
        Inner.ReloadTypes();
        _pool.ClearAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// Reloads the database's types on the leased connection and clears the pool, so that every other pooled
    /// connection is replaced before it is handed out again (see <see cref="ReloadTypes"/>).
    /// </summary>
    /// <param name="cancellationToken">Cancels the reload.</param>
    /// <returns>A task that completes when the types are reloaded and the pool cleared.</returns>
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    public async Task ReloadTypesAsync(CancellationToken cancellationToken = default)
    {
        await Inner.ReloadTypesAsync(cancellationToken).ConfigureAwait(false);
        await _pool.ClearAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public override DataTable GetSchema() => Inner.GetSchema();

    /// <inheritdoc />
    public override DataTable GetSchema(string collectionName) => Inner.GetSchema(collectionName);

    /// <inheritdoc />
    public override DataTable GetSchema(string collectionName, string?[] restrictionValues) => Inner.GetSchema(collectionName, restrictionValues);

    /// <summary>Not supported: pooled connections do not enlist in ambient transactions.</summary>
    /// <param name="transaction">Ignored.</param>
    /// <exception cref="NotSupportedException">Always, unless <paramref name="transaction"/> is null.</exception>
    public override void EnlistTransaction(System.Transactions.Transaction? transaction)
    {
        if (transaction is not null)
        {
            throw new NotSupportedException("PoolKit connections do not enlist in System.Transactions transactions; use BeginTransaction.");
        }
    }

    /// <inheritdoc />
    protected override DbTransaction BeginDbTransaction(IsolationLevel isolationLevel) => BeginTransaction(isolationLevel);

    /// <inheritdoc />
    protected override async ValueTask<DbTransaction> BeginDbTransactionAsync(IsolationLevel isolationLevel, CancellationToken cancellationToken) =>
        await BeginTransactionAsync(isolationLevel, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    protected override DbCommand CreateDbCommand() => CreateCommand();

    /// <inheritdoc />
    protected override DbBatch CreateDbBatch() => CreateBatch();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _disposed = true;
            Close();
        }

        base.Dispose(disposing);
    }

    /// <summary>Remembers the reader a command of this connection opened, so that <see cref="Close"/> can close it first.</summary>
    internal void TrackReader(NpgsqlDataReader reader) => _reader = reader;

    /// <summary>
    /// Gets the Npgsql connection this open runs on, without handing it out (commands, batches and transactions of
    /// this connection bind to it; they never outlive the open).
    /// </summary>
    /// <exception cref="InvalidOperationException">The connection is not open.</exception>
    internal NpgsqlConnection Inner => _connection ?? throw NotOpen();

    /// <summary>Gets whether a reader a command of this connection opened is still open.</summary>
    internal bool HasOpenReader => _reader is { IsClosed: false };

    /// <summary>Gets or sets whether raw references are handed out as if the connector handover were unavailable (for tests of the fallback).</summary>
    internal bool HandoverDisabled { get; set; }

    /// <summary>
    /// Called when a raw Npgsql object of this open (the connection, or a transaction's) is handed out: from then on
    /// this open runs on a lent connection object that <see cref="Close"/> leaves closed. Does nothing when closed.
    /// </summary>
    internal void ExposeRaw()
    {
        if (_lent is null && _connection is not null)
        {
            _ = LendRaw();
        }
    }

    private static bool IsOpen(NpgsqlConnection connection) => (connection.FullState & ConnectionState.Open) != 0;

    private static InvalidOperationException NotOpen() =>
        new("The connection is not open: open it (OpenAsync) to lease a pooled NpgsqlConnection.");

    /// <summary>Moves the pooled session into a fresh connection object for the rest of this open (see <see cref="NpgsqlConnection"/>).</summary>
    private NpgsqlConnection LendRaw()
    {
        NpgsqlConnection connection = _connection ?? throw NotOpen();
        NpgsqlConnection? lent = HandoverDisabled || _destroyOnReturn ? null : NpgsqlConnectorHandover.Lend(connection);
        if (lent is null)
        {
            // No handover (a future Npgsql, or a session that already died): hand out the pooled object itself, and
            // destroy it on return so that a kept reference is a disposed connection, never the next user's session.
            _destroyOnReturn = true;
            return connection;
        }

        if (_forwardInnerStateChange is { } forward && _stateChange is not null)
        {
            connection.StateChange -= forward;
            lent.StateChange += forward;
        }

        _lent = lent;
        _lentConnector = NpgsqlConnectorHandover.LentConnector(lent);
        _connection = lent;
        return lent;
    }

    private PoolKitDbTransaction Track(NpgsqlTransaction transaction)
    {
        var wrapper = new PoolKitDbTransaction(this, transaction);
        _transaction = wrapper;
        return wrapper;
    }

    private void BeforeOpen()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_connection is { } connection)
        {
            if (IsOpen(connection))
            {
                throw new InvalidOperationException("The connection is already open.");
            }

            // The session died while leased (State reads Closed): give it back, to be destroyed, and lease another.
            Close();
        }

        // PERF: one thread-static read; no allocation unless a scope is active.
        if (_pool.EnlistsInAmbientTransactions && System.Transactions.Transaction.Current is not null)
        {
            throw new NotSupportedException(
                "A PoolKitDataSource connection cannot enlist in a TransactionScope (System.Transactions): opened inside one, its commands would run outside the scope's transaction, so it refuses to open. "
                + "Open the connection before the scope and use BeginTransaction, suppress the scope around the open (TransactionScopeOption.Suppress), or set Enlist=false in the pool's connection string to open without enlisting.");
        }
    }

    private void Opened(PoolLease<NpgsqlConnection> lease)
    {
        _lease = lease;
        _connection = lease.Resource;
        _pooled = _connection;
        _closedReported = false;
        if (_stateChange is { } handlers)
        {
            lease.Resource.StateChange += ForwardInnerStateChange;
            handlers(this, s_closedToOpen);
        }
    }

    private void Release(NpgsqlConnection connection)
    {
        PoolLease<NpgsqlConnection> lease = _lease;
        NpgsqlConnection? pooled = _pooled;
        NpgsqlConnection? lent = _lent;
        object? lentConnector = _lentConnector;
        bool destroy = _destroyOnReturn;
        _lease = default;
        _connection = null;
        _pooled = null;
        _lent = null;
        _lentConnector = null;
        _destroyOnReturn = false;
        _reader = null;
        _transaction?.Detach();
        _transaction = null;
        bool report = !_closedReported;
        _closedReported = false;
        if (_forwardInnerStateChange is { } forward)
        {
            connection.StateChange -= forward;
        }

        // Broken: Npgsql saw an I/O or fatal server error. (Closed is the caller's doing; the pool counts that.)
        if (connection.FullState == ConnectionState.Broken && lease.IsActive)
        {
            lease.MarkBroken();
        }

        try
        {
            // Order: after the broken check (it reads the lent object), before the return (the pool resets the pooled
            // one). A lent object without its connector (its caller closed it, or Npgsql released a broken session)
            // leaves the pooled one closed: the pool destroys it (counted as closed by the caller, or broken).
            if (lent is not null && pooled is not null && lentConnector is not null)
            {
                _ = NpgsqlConnectorHandover.Restore(lent, pooled, lentConnector);
            }
        }
        finally
        {
            // The pooled object itself was handed out (no handover available): a kept reference must not reach the
            // next user, so the connection is destroyed (counted as broken) instead of reused.
            if (destroy && lease.IsActive)
            {
                lease.MarkBroken();
            }

            lease.Dispose();
        }
        if (report)
        {
            _stateChange?.Invoke(this, s_openToClosed);
        }
    }

    /// <summary>Reports the leased session's death (Npgsql raises Open to Closed when it breaks) as this connection's.</summary>
    private void OnInnerStateChange(object sender, StateChangeEventArgs e)
    {
        if (ReferenceEquals(sender, _connection) && e.CurrentState == ConnectionState.Closed && !_closedReported)
        {
            _closedReported = true;
            _stateChange?.Invoke(this, s_openToClosed);
        }
    }
}
