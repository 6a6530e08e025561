using System.Data;
using Npgsql;

namespace PoolKit.Npgsql;

/// <summary>Helpers for leases of pooled <see cref="NpgsqlConnection"/>s.</summary>
public static class NpgsqlPoolLeaseExtensions
{
    /// <summary>
    /// Marks the lease broken, so its connection is destroyed on return instead of reused, when the error says the
    /// connection is broken (<see cref="NpgsqlErrorClassifier.IsConnectionBroken"/>) or the connection is no longer
    /// plainly open. Call it in the <c>catch</c> of any operation on the leased connection.
    /// </summary>
    /// <param name="lease">The active lease the error happened on.</param>
    /// <param name="exception">The error.</param>
    /// <returns><see langword="true"/> if the lease was marked broken.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="exception"/> is null.</exception>
    /// <exception cref="LeaseAlreadyReturnedException">The lease was already returned.</exception>
    /// <exception cref="InvalidOperationException">This is the default lease.</exception>
    public static bool MarkBrokenIf(this PoolLease<NpgsqlConnection> lease, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (NpgsqlErrorClassifier.IsConnectionBroken(exception) || lease.Resource.FullState != ConnectionState.Open)
        {
            lease.MarkBroken();
            return true;
        }

        return false;
    }
}
