using Microsoft.Extensions.Options;

namespace PoolKit.Npgsql.DependencyInjection;

/// <summary>Reports every violated rule of named <see cref="NpgsqlConnectionPoolOptions"/> at once (run on start by <c>ValidateOnStart</c>).</summary>
internal sealed class NpgsqlConnectionPoolOptionsValidator : IValidateOptions<NpgsqlConnectionPoolOptions>
{
    public ValidateOptionsResult Validate(string? name, NpgsqlConnectionPoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate(requireConnectionString: true);
        return errors.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(errors.Select(e => $"Npgsql connection pool '{name}': {e}"));
    }
}
