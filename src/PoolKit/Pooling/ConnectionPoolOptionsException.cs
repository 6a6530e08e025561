using PoolKit.Internal;

namespace PoolKit;

/// <summary>Thrown at construction when one or more <see cref="ConnectionPoolOptions"/> are invalid.</summary>
public sealed class ConnectionPoolOptionsException : ArgumentException
{
    /// <summary>Initializes a new instance listing every violation.</summary>
    /// <param name="errors">One message per violation, each naming the option, its value and the rule.</param>
    public ConnectionPoolOptionsException(IReadOnlyList<string> errors)
        : base(BuildMessage(errors ?? []), "options")
    {
        Errors = errors ?? [];
    }

    /// <summary>Gets one message per violation, each naming the option, its value and the rule.</summary>
    public IReadOnlyList<string> Errors { get; }

    private static string BuildMessage(IReadOnlyList<string> errors) => OptionErrors.Format("Invalid connection pool options", errors);
}
