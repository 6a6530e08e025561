namespace PoolKit;

/// <summary>An item that did not commit, or whose commit is uncertain.</summary>
/// <param name="Index">The item's zero-based position in the input.</param>
/// <param name="Key">The item's key, when the caller gave a key selector; otherwise <see langword="null"/>.</param>
/// <param name="Outcome"><see cref="BatchItemOutcome.Failed"/> or <see cref="BatchItemOutcome.Unknown"/>.</param>
/// <param name="Exception">The error.</param>
public sealed record BatchItemFailure(long Index, object? Key, BatchItemOutcome Outcome, Exception Exception);
