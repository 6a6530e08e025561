namespace PoolKit.Tests.Fakes;

internal static class LeaseExtensions
{
    public static void MarkBrokenAndDispose<T>(this PoolLease<T> lease)
        where T : class
    {
        lease.MarkBroken();
        lease.Dispose();
    }
}
