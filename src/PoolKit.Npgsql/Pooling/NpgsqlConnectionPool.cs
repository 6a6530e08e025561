using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using PoolKit.Npgsql.Diagnostics;
using PoolKit.Npgsql.Internal;

namespace PoolKit.Npgsql;

/// <summary>
/// A PoolKit pool of open <see cref="NpgsqlConnection"/>s: a <see cref="ConnectionPool{T}"/> with an
/// <see cref="NpgsqlConnectionPolicy"/> over a data source it builds with Npgsql's own pooling off, and owns.
/// </summary>
/// <remarks>
/// <para>Lease a connection with <see cref="AcquireAsync(CancellationToken)"/> and dispose the lease to return it; do not close or
/// dispose the connection itself (a closed connection is destroyed on return, counted in <see cref="ClosedByCaller"/>
/// and logged once per pool at Warning). After an error, call <see cref="NpgsqlPoolLeaseExtensions.MarkBrokenIf"/> so
/// a broken connection is never reused. Code written for a data source (Dapper, EF Core, <c>await using var conn =
/// await dataSource.OpenConnectionAsync()</c>) uses <see cref="PoolKitDataSource"/> over the same pool.</para>
/// <para>A lease's <see cref="PoolLease{T}.Resource"/> is the pooled connection object itself, valid until the lease
/// is returned (like an array rented from <c>ArrayPool</c>): after the return, <see cref="PoolLease{T}.Resource"/>
/// throws, but a reference to the connection kept in a variable still reaches the session of whoever leases it next.
/// Handing out a fresh object per lease would cost an allocation on every acquire; code that may keep references past
/// the return (callbacks, captured closures, third-party libraries) belongs on <see cref="PoolKitDataSource"/>, whose
/// <see cref="PoolKitDbConnection.NpgsqlConnection"/> is closed once its connection closes, as with Npgsql's
/// pool.</para>
/// <para>Disposing the pool disposes the pool (waiting up to <see cref="ConnectionPoolOptions.DisposeTimeout"/> for
/// leases) and then the data source. <see cref="ToString"/> names the pool, host, port and database, never the
/// password.</para>
/// </remarks>
public sealed class NpgsqlConnectionPool : IConnectionPool<NpgsqlConnection>
{
    private readonly ConnectionPool<NpgsqlConnection> _pool;
    private readonly NpgsqlDataSource _dataSource;
    private readonly ClosedByCallerDetector _detector;
    private readonly Meter? _ownedMeter;
    private readonly string _display;
    private int _disposed;

    /// <summary>Creates a pool from options holding a connection string.</summary>
    /// <param name="options">The settings; copied, so later changes do not affect the pool.</param>
    /// <param name="loggerFactory">Where the pool logs. Default: no logging.</param>
    /// <param name="meterFactory">Where the pool's meter is created. Default: a meter outside dependency injection.</param>
    /// <param name="timeProvider">The clock. Default: <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ConnectionPoolOptionsException">The options are invalid (every violation is listed; the connection string is never quoted).</exception>
    public NpgsqlConnectionPool(
        NpgsqlConnectionPoolOptions options,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        TimeProvider? timeProvider = null)
        : this(Prepare(options, loggerFactory), loggerFactory, meterFactory, timeProvider)
    {
    }

    /// <summary>
    /// Creates a pool from an <see cref="NpgsqlDataSourceBuilder"/> (for type mappings, password providers,
    /// certificates and the like). PoolKit turns the builder's pooling off and builds the data source itself.
    /// </summary>
    /// <param name="dataSourceBuilder">The configured builder. Its pool-sizing keywords must be left at their defaults. Npgsql logs where the builder says (<c>UseLoggerFactory</c>); an unnamed builder is named after the pool, which Npgsql's meter uses as a label.</param>
    /// <param name="options">Reset mode and pool options; <see cref="NpgsqlConnectionPoolOptions.ConnectionString"/> must be null. Default: the defaults.</param>
    /// <param name="loggerFactory">Where the pool logs. Default: no logging.</param>
    /// <param name="meterFactory">Where the pool's meter is created. Default: a meter outside dependency injection.</param>
    /// <param name="timeProvider">The clock. Default: <see cref="TimeProvider.System"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataSourceBuilder"/> is null.</exception>
    /// <exception cref="ConnectionPoolOptionsException">The options or the builder's pooling keywords are invalid, or a connection string is set in both places.</exception>
    public NpgsqlConnectionPool(
        NpgsqlDataSourceBuilder dataSourceBuilder,
        NpgsqlConnectionPoolOptions? options = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        TimeProvider? timeProvider = null)
        : this(Prepare(dataSourceBuilder, options, loggerFactory), loggerFactory, meterFactory, timeProvider)
    {
    }

    private NpgsqlConnectionPool(Prepared prepared, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, TimeProvider? timeProvider)
    {
        _dataSource = prepared.DataSource;
        EnlistsInAmbientTransactions = prepared.Enlist;
        try
        {
            ResetMode = prepared.Options.ResetMode;
            Policy = new NpgsqlConnectionPolicy(_dataSource, prepared.Options.ResetMode, timeProvider ?? TimeProvider.System);

            // The adapter's own instruments join the pool's meter: an IMeterFactory hands out the same meter for
            // the same name; without one the pool owns a meter of its own.
            Meter meter = meterFactory?.Create(new MeterOptions(PoolKitTelemetry.MeterName)) ?? (_ownedMeter = new Meter(PoolKitTelemetry.MeterName));
            _detector = new ClosedByCallerDetector(Policy, prepared.Options.Pool.Name, Logger(loggerFactory), meter);
            _pool = new ConnectionPool<NpgsqlConnection>(_detector, prepared.Options.Pool, loggerFactory, meterFactory, timeProvider);
        }
        catch
        {
            _ownedMeter?.Dispose();
            _dataSource.Dispose();
            throw;
        }

        _display = string.Create(
            CultureInfo.InvariantCulture,
            $"NpgsqlConnectionPool '{_pool.Name}' ({prepared.Host}:{prepared.Port}/{prepared.Database}, max {prepared.Options.Pool.MaxSize}, reset {ResetMode})");
    }

    /// <inheritdoc />
    public string Name => _pool.Name;

    /// <summary>Gets a copy of the pool options the pool runs with.</summary>
    public ConnectionPoolOptions Options => _pool.Options;

    /// <summary>Gets how returned connections are reset.</summary>
    public NpgsqlResetMode ResetMode { get; }

    /// <summary>Gets the policy the pool uses (for example to build another pool over the same data source).</summary>
    public NpgsqlConnectionPolicy Policy { get; }

    /// <summary>
    /// Gets how many leased connections came back closed by their caller (for example after
    /// <c>await using var conn = lease.Resource;</c>): each was destroyed and must be replaced. Should stay 0;
    /// the first occurrence is logged at Warning (event <see cref="NpgsqlPoolEventIds.ConnectionClosedByCaller"/>).
    /// </summary>
    public long ClosedByCaller => _detector.ClosedByCaller;

    /// <summary>Gets the connection string without its password, as Npgsql reports it.</summary>
    internal string ConnectionStringWithoutPassword => _dataSource.ConnectionString;

    /// <summary>
    /// Gets whether the user's connection string asks connections to enlist in an ambient
    /// <see cref="System.Transactions.Transaction"/> (<c>Enlist</c>, default true). The pool's own connections never
    /// enlist; <see cref="PoolKitDbConnection"/> refuses to open inside a scope when this is true.
    /// </summary>
    internal bool EnlistsInAmbientTransactions { get; }

    /// <summary>Gets the non-pooling data source the pool opens connections from (owned by the pool).</summary>
    internal NpgsqlDataSource InnerDataSource => _dataSource;

    /// <summary>Creates a pool from a connection string.</summary>
    /// <param name="connectionString">The Npgsql connection string (see <see cref="NpgsqlConnectionPoolOptions"/> for the pooling keywords).</param>
    /// <param name="options">The pool options. Default: the defaults.</param>
    /// <param name="resetMode">How returned connections are reset. Default <see cref="NpgsqlResetMode.Discard"/>.</param>
    /// <returns>The pool; dispose it when done.</returns>
    /// <exception cref="ArgumentException"><paramref name="connectionString"/> is null or blank.</exception>
    /// <exception cref="ConnectionPoolOptionsException">The options or the connection string's pooling keywords are invalid.</exception>
    public static NpgsqlConnectionPool Create(string connectionString, ConnectionPoolOptions? options = null, NpgsqlResetMode resetMode = NpgsqlResetMode.Discard)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        return new NpgsqlConnectionPool(new NpgsqlConnectionPoolOptions
        {
            ConnectionString = connectionString,
            ResetMode = resetMode,
            Pool = options ?? new ConnectionPoolOptions(),
        });
    }

    /// <inheritdoc />
    /// <exception cref="PoolKitNpgsqlException">The pool was exhausted or could not create a connection in time, or Npgsql's multi-host data source found no suitable host (an <see cref="NpgsqlException"/> with one stable message per condition; see its <see cref="NpgsqlException.IsTransient"/>).</exception>
    /// <exception cref="NpgsqlException">Opening a connection for this caller failed (the server's or the network's error).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    /// <exception cref="ObjectDisposedException">The pool is disposed.</exception>
    public ValueTask<PoolLease<NpgsqlConnection>> AcquireAsync(CancellationToken cancellationToken = default)
    {
        ValueTask<PoolLease<NpgsqlConnection>> pending;
        try
        {
            pending = _pool.AcquireAsync(cancellationToken);
        }
        catch (Exception ex) when (PoolKitNpgsqlException.IsTranslated(ex))
        {
            throw PoolKitNpgsqlException.Translate(Name, ex);
        }

        return pending.IsCompletedSuccessfully ? pending : AcquireTranslatingAsync(pending);
    }

    /// <inheritdoc />
    /// <exception cref="PoolKitNpgsqlException">The pool was exhausted within <paramref name="timeout"/> or could not create a connection in time (an <see cref="NpgsqlException"/>; see its <see cref="NpgsqlException.IsTransient"/>).</exception>
    /// <exception cref="NpgsqlException">Opening a connection for this caller failed (the server's or the network's error).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    /// <exception cref="ObjectDisposedException">The pool is disposed.</exception>
    public ValueTask<PoolLease<NpgsqlConnection>> AcquireAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ValueTask<PoolLease<NpgsqlConnection>> pending;
        try
        {
            pending = _pool.AcquireAsync(timeout, cancellationToken);
        }
        catch (Exception ex) when (ex is PoolExhaustedException or ResourceCreationException)
        {
            throw PoolKitNpgsqlException.Translate(Name, ex);
        }

        return pending.IsCompletedSuccessfully ? pending : AcquireTranslatingAsync(pending);
    }

    /// <inheritdoc />
    public bool TryAcquire(out PoolLease<NpgsqlConnection> lease) => _pool.TryAcquire(out lease);

    /// <inheritdoc />
    public ValueTask ReturnAsync(PoolLease<NpgsqlConnection> lease, CancellationToken cancellationToken = default) => _pool.ReturnAsync(lease, cancellationToken);

    /// <inheritdoc />
    public ValueTask ClearAsync(CancellationToken cancellationToken = default) => _pool.ClearAsync(cancellationToken);

    /// <inheritdoc />
    public PoolStatistics GetStatistics() => _pool.GetStatistics();

    /// <inheritdoc />
    public bool IsPaused => _pool.IsPaused;

    /// <inheritdoc />
    public void Resize(int minSize, int maxSize) => _pool.Resize(minSize, maxSize);

    /// <inheritdoc />
    public void Pause() => _pool.Pause();

    /// <inheritdoc />
    public void Resume() => _pool.Resume();

    /// <summary>Disposes the pool, then the data source it owns. Idempotent.</summary>
    /// <returns>A task that completes when both are disposed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _pool.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _ownedMeter?.Dispose();
            await _dataSource.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Disposes the pool, then the data source it owns, blocking. Prefer <see cref="DisposeAsync"/>. Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _pool.Dispose();
        }
        finally
        {
            _ownedMeter?.Dispose();
            _dataSource.Dispose();
        }
    }

    // PERF: a pooled state machine box. Every acquire that waits comes here, and a new box per wait was the 100-400 B per
    // cycle of the contended Npgsql cycle (64 tasks on a pool of 16); the pooled one is reused by the next wait.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PoolLease<NpgsqlConnection>> AcquireTranslatingAsync(ValueTask<PoolLease<NpgsqlConnection>> pending)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (PoolKitNpgsqlException.IsTranslated(ex))
        {
            throw PoolKitNpgsqlException.Translate(Name, ex);
        }
    }

    /// <summary>Describes the pool without secrets, e.g. <c>NpgsqlConnectionPool 'orders' (db:5432/orders, max 20, reset Discard)</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => _display;

    private static Prepared Prepare(NpgsqlConnectionPoolOptions options, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        NpgsqlConnectionPoolOptions snapshot = options.Clone();
        ThrowIfInvalid(snapshot.Validate(requireConnectionString: true));
        var builder = new NpgsqlDataSourceBuilder(snapshot.ConnectionString);

        // Npgsql logs to the application's logger factory. A builder handed in keeps whatever its owner configured.
        builder.UseLoggerFactory(loggerFactory);
        if (ConnectionStringRules.AsksForPooling(snapshot.ConnectionString!))
        {
            Logger(loggerFactory).NpgsqlPoolingDisabled(snapshot.Pool.Name);
        }

        return Build(builder, snapshot, loggerFactory);
    }

    private static Prepared Prepare(NpgsqlDataSourceBuilder builder, NpgsqlConnectionPoolOptions? options, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        NpgsqlConnectionPoolOptions snapshot = options?.Clone() ?? new NpgsqlConnectionPoolOptions();
        var errors = new List<string>(snapshot.Validate(requireConnectionString: false));
        if (!string.IsNullOrEmpty(snapshot.ConnectionString))
        {
            errors.Add("ConnectionString is set although the pool is built from an NpgsqlDataSourceBuilder: set it on the builder only.");
        }

        ConnectionStringRules.CheckBuilder(builder.ConnectionStringBuilder, errors);
        if (snapshot.BehindTransactionPooler)
        {
            ConnectionStringRules.CheckTransactionPooler(builder.ConnectionStringBuilder, errors);
        }

        ThrowIfInvalid(errors);
        return Build(builder, snapshot, loggerFactory);
    }

    private static Prepared Build(NpgsqlDataSourceBuilder builder, NpgsqlConnectionPoolOptions options, ILoggerFactory? loggerFactory)
    {
        // Read before Apply turns it off for the pool's own connections.
        bool enlist = builder.ConnectionStringBuilder.Enlist;
        ConnectionStringRules.Apply(builder.ConnectionStringBuilder);

        // Npgsql's own meter tags its operation metrics with the data source's Name, which defaults to the connection
        // string (host and user in a metric label): name it after the pool instead.
        builder.Name ??= options.Pool.Name;

        options.ResetMode = options.EffectiveResetMode; // the snapshot's own copy: Discard becomes RollbackOnly behind a transaction pooler
        // Probed here, when the pool is built, so the first pool in a process warns too (not only after a return).
        if (options.ResetMode is NpgsqlResetMode.RollbackOnly or NpgsqlResetMode.DiscardOnReturn && !NpgsqlTransactionState.Probe())
        {
            Logger(loggerFactory).TransactionStatusUnavailable(options.Pool.Name);
        }

        if (options.ResetMode == NpgsqlResetMode.Discard && !NpgsqlPrependedReset.Probe())
        {
            Logger(loggerFactory).QueuedResetUnavailable(options.Pool.Name, typeof(NpgsqlConnection).Assembly.GetName().Version?.ToString());
        }

        if (!NpgsqlServerHangup.Probe())
        {
            Logger(loggerFactory).HangupCheckUnavailable(options.Pool.Name, typeof(NpgsqlConnection).Assembly.GetName().Version?.ToString());
        }

        NpgsqlConnectionStringBuilder settings = builder.ConnectionStringBuilder;
        NpgsqlDataSource dataSource = builder.Build();

        // Npgsql's meter would report every connection PoolKit holds as "used" (the inner data source does not pool):
        // PoolKit's own meter reports the real split, so the inner data source leaves Npgsql's connection series.
        if (!NpgsqlMeterConnectionSeries.TryRemove(dataSource))
        {
            Logger(loggerFactory).NpgsqlMeterSeriesKept(options.Pool.Name, typeof(NpgsqlConnection).Assembly.GetName().Version?.ToString());
        }

        return new Prepared(dataSource, options, settings.Host ?? "(default host)", settings.Port, settings.Database ?? "(default database)", enlist);
    }

    private static ILogger Logger(ILoggerFactory? loggerFactory) =>
        (ILogger?)loggerFactory?.CreateLogger<NpgsqlConnectionPool>() ?? NullLogger.Instance;

    private static void ThrowIfInvalid(IReadOnlyList<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new ConnectionPoolOptionsException(errors);
        }
    }

    private sealed record Prepared(NpgsqlDataSource DataSource, NpgsqlConnectionPoolOptions Options, string Host, int Port, string Database, bool Enlist);
}
