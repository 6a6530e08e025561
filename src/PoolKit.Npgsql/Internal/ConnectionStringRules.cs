using System.Data.Common;
using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// What PoolKit does with the pooling keywords of an Npgsql connection string: pooling is forced off, the
/// pool-sizing keywords and multiplexing are rejected (see <see cref="NpgsqlConnectionPoolOptions"/>). Messages
/// name keywords, never values, so a password cannot leak through them.
/// </summary>
internal static class ConnectionStringRules
{
    private static readonly NpgsqlConnectionStringBuilder s_defaults = new();

    /// <summary>Parses a connection string and adds a message per violated rule.</summary>
    /// <returns>The parsed builder, or <see langword="null"/> if it could not be parsed.</returns>
    public static NpgsqlConnectionStringBuilder? Check(string connectionString, List<string> errors)
    {
        // Look at the keywords as written first: Npgsql's parser rejects some combinations (for example a
        // Max Pool Size below its own minimum) with a message that would not say what to do instead.
        int before = errors.Count;
        DbConnectionStringBuilder raw;
        try
        {
            raw = new DbConnectionStringBuilder { ConnectionString = connectionString };
        }
        catch (ArgumentException ex)
        {
            errors.Add($"ConnectionString cannot be parsed: {ex.Message}");
            return null;
        }

        foreach (string key in raw.Keys)
        {
            string normalized = key.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();
            switch (normalized)
            {
                case "MINPOOLSIZE": AddRejection(errors, "Min Pool Size", "ConnectionPoolOptions.MinSize"); break;
                case "MAXPOOLSIZE": AddRejection(errors, "Max Pool Size", "ConnectionPoolOptions.MaxSize"); break;
                case "CONNECTIONIDLELIFETIME": AddRejection(errors, "Connection Idle Lifetime", "ConnectionPoolOptions.IdleTimeout"); break;
                case "CONNECTIONPRUNINGINTERVAL": AddRejection(errors, "Connection Pruning Interval", "ConnectionPoolOptions.MaintenanceInterval"); break;
                case "CONNECTIONLIFETIME" or "LOADBALANCETIMEOUT": AddRejection(errors, "Connection Lifetime", "ConnectionPoolOptions.MaxLifetime"); break;
                default: break;
            }
        }

        if (errors.Count > before)
        {
            return null;
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
        {
            // The parser's messages name the offending keyword or position, not values.
            errors.Add($"ConnectionString cannot be parsed: {ex.Message}");
            return null;
        }

        CheckBuilder(builder, errors);
        return builder;
    }

    /// <summary>Adds a message per pooling keyword that PoolKit does not accept.</summary>
    public static void CheckBuilder(NpgsqlConnectionStringBuilder builder, List<string> errors)
    {
        Reject(builder.MinPoolSize != s_defaults.MinPoolSize, "Min Pool Size", "ConnectionPoolOptions.MinSize");
        Reject(builder.MaxPoolSize != s_defaults.MaxPoolSize, "Max Pool Size", "ConnectionPoolOptions.MaxSize");
        Reject(builder.ConnectionIdleLifetime != s_defaults.ConnectionIdleLifetime, "Connection Idle Lifetime", "ConnectionPoolOptions.IdleTimeout");
        Reject(builder.ConnectionPruningInterval != s_defaults.ConnectionPruningInterval, "Connection Pruning Interval", "ConnectionPoolOptions.MaintenanceInterval");
        Reject(builder.ConnectionLifetime != s_defaults.ConnectionLifetime, "Connection Lifetime", "ConnectionPoolOptions.MaxLifetime");
        if (builder.Multiplexing)
        {
            errors.Add("ConnectionString sets Multiplexing=true: multiplexing needs Npgsql's own pool, which PoolKit turns off; remove it.");
        }

        void Reject(bool isSet, string keyword, string instead)
        {
            if (isSet)
            {
                AddRejection(errors, keyword, instead);
            }
        }
    }

    /// <summary>The message for DiscardOnReturn behind a transaction pooler.</summary>
    public const string PoolerDiscardOnReturn =
        "ResetMode = DiscardOnReturn with BehindTransactionPooler = true: behind a transaction pooler a client connection has no server session of its own, so DISCARD ALL resets whichever server session it lands on (another instance's, possibly) at the cost of a round trip; use RollbackOnly (what the default, Discard, becomes) or None.";

    /// <summary>Adds a message per connection string setting that cannot work behind a transaction pooler.</summary>
    public static void CheckTransactionPooler(NpgsqlConnectionStringBuilder builder, List<string> errors)
    {
        if (builder.MaxAutoPrepare > 0)
        {
            errors.Add("ConnectionString sets 'Max Auto Prepare' with BehindTransactionPooler = true: a prepared statement exists in one server session only, and a transaction pooler runs the next transaction on any session, where it is missing (error 26000); remove 'Max Auto Prepare'.");
        }

        if (!string.IsNullOrEmpty(builder.Options))
        {
            errors.Add("ConnectionString sets 'Options' with BehindTransactionPooler = true: startup options are not carried to the server session of each transaction by a transaction pooler (PgBouncer refuses or drops them); remove 'Options' and set the parameters on the role or database (ALTER ROLE ... SET).");
        }

        if (!string.IsNullOrEmpty(builder.SearchPath))
        {
            errors.Add("ConnectionString sets 'Search Path' with BehindTransactionPooler = true: it is a startup parameter, which a transaction pooler does not carry to the server session of each transaction (PgBouncer refuses or drops it); remove 'Search Path' and set search_path on the role or database (ALTER ROLE ... SET search_path = ...).");
        }
    }

    private static void AddRejection(List<string> errors, string keyword, string instead) =>
        errors.Add($"ConnectionString sets '{keyword}': PoolKit turns Npgsql's pooling off and sizes the pool itself; remove '{keyword}' and set {instead} instead.");

    /// <summary>Whether the connection string itself says <c>Pooling=true</c> (rather than relying on Npgsql's default).</summary>
    public static bool AsksForPooling(string connectionString)
    {
        var raw = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return raw.TryGetValue("Pooling", out object? value)
            && bool.TryParse(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture), out bool pooling)
            && pooling;
    }

    /// <summary>
    /// Turns pooling and enlistment off on a builder after checking it: the pool's physical connections must never
    /// enlist in a <see cref="System.Transactions.Transaction"/> that happens to be ambient while one is created (Npgsql
    /// would queue a BEGIN on it that the pool's reset then swallows, desynchronising the protocol).
    /// </summary>
    /// <exception cref="ConnectionPoolOptionsException">A pooling keyword PoolKit does not accept is set.</exception>
    public static void Apply(NpgsqlConnectionStringBuilder builder)
    {
        var errors = new List<string>();
        CheckBuilder(builder, errors);
        if (errors.Count > 0)
        {
            throw new ConnectionPoolOptionsException(errors);
        }

        builder.Pooling = false;
        builder.Enlist = false;
    }
}
