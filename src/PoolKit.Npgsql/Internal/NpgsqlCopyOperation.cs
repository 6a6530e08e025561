using Npgsql;

namespace PoolKit.Npgsql.Internal;

/// <summary>
/// The operation of the bulk-insert mode: the unit's items written with one binary <c>COPY ... FROM STDIN</c>
/// inside the unit's transaction.
/// </summary>
/// <remarks>
/// <para>Immutable after construction and shared by every worker of a run.</para>
/// <para>Exactly once: Npgsql sends the unit's <c>BEGIN</c> ahead of the <c>COPY</c>, so the copied rows become
/// visible only when the runner commits. A unit that fails before its commit is rolled back whole, and its retry
/// starts from an empty slate: a retry can never duplicate rows.</para>
/// </remarks>
internal sealed class NpgsqlCopyOperation<TItem>
{
    private readonly string _copyCommand;
    private readonly Func<NpgsqlBinaryImporter, TItem, CancellationToken, ValueTask> _writeRow;

    public NpgsqlCopyOperation(string copyCommand, Func<NpgsqlBinaryImporter, TItem, CancellationToken, ValueTask> writeRow)
    {
        _copyCommand = copyCommand;
        _writeRow = writeRow;
    }

    /// <summary>Tells whether <paramref name="copyCommand"/> looks like a binary <c>COPY ... FROM STDIN</c>, so a typo fails the call instead of every unit.</summary>
    public static bool IsBinaryCopyFromStdin(string copyCommand) =>
        copyCommand.AsSpan().TrimStart().StartsWith("COPY", StringComparison.OrdinalIgnoreCase)
        && copyCommand.Contains("STDIN", StringComparison.OrdinalIgnoreCase)
        && copyCommand.Contains("BINARY", StringComparison.OrdinalIgnoreCase);

    public async ValueTask ExecuteAsync(BatchUnit<NpgsqlConnection, NpgsqlTransaction, TItem> unit, CancellationToken cancellationToken)
    {
        NpgsqlBinaryImporter importer = await unit.Resource.BeginBinaryImportAsync(_copyCommand, cancellationToken).ConfigureAwait(false);
        try
        {
            for (int i = 0; i < unit.Items.Length; i++)
            {
                await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await _writeRow(importer, unit.Items.Span[i], cancellationToken).ConfigureAwait(false);
            }

            _ = await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Disposing an incomplete importer cancels the COPY (CopyFail); on a broken connection that fails too,
            // and its error must not replace the one that classifies the unit.
            await DisposeQuietlyAsync(importer).ConfigureAwait(false);
            throw;
        }

        await importer.DisposeAsync().ConfigureAwait(false);
    }

    public static async ValueTask DisposeQuietlyAsync(NpgsqlBinaryImporter importer)
    {
        try
        {
            await importer.DisposeAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Best effort after a failure that is being reported already.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
