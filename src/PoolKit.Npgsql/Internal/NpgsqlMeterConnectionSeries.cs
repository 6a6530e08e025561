using System.Reflection;
using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// Takes PoolKit's inner, non-pooling data source out of the connection series of Npgsql's own meter
/// (<c>db.client.connection.count</c> and <c>.max</c> of meter <c>Npgsql</c>), which would report every connection
/// PoolKit holds as "used", its idle ones included: the opposite of what PoolKit's own meter reports.
/// </summary>
/// <remarks>
/// <para>Npgsql observes those two instruments over a process-wide list of its data sources' metrics reporters, and a
/// non-pooling data source reports <c>(total, idle 0, busy total)</c>. Npgsql has no switch to leave one data source
/// out, so PoolKit disposes the inner data source's reporter (internal <c>NpgsqlDataSource.MetricsReporter</c>, an
/// <see cref="IDisposable"/> whose <c>Dispose</c> only removes it from that list, as when the data source is disposed)
/// right after building it. Every other data source keeps its series, and PoolKit's connections keep Npgsql's
/// operation metrics (<c>db.client.operation.duration</c> and the like), which do not go through that list.</para>
/// <para>Reached by reflection once per pool; where this Npgsql version has no such member, nothing is removed and
/// the caller logs it.</para>
/// </remarks>
internal static class NpgsqlMeterConnectionSeries
{
    private static readonly PropertyInfo? s_reporter =
        typeof(NpgsqlDataSource).GetProperty("MetricsReporter", BindingFlags.Instance | BindingFlags.NonPublic);

    /// <summary>Removes <paramref name="dataSource"/> from the connection series of Npgsql's meter.</summary>
    /// <returns>Whether it was removed.</returns>
    public static bool TryRemove(NpgsqlDataSource dataSource)
    {
        if (s_reporter?.GetValue(dataSource) is not IDisposable reporter)
        {
            return false;
        }

        reporter.Dispose();
        return true;
    }
}
