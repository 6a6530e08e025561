using System.Globalization;

namespace PoolKit.Internal;

/// <summary>The one format every options class uses to report violations: "Option = value: rule.", all listed at once.</summary>
internal static class OptionErrors
{
    public static string Describe(string option, object value, string rule) =>
        string.Create(CultureInfo.InvariantCulture, $"{option} = {value}: {rule}.");

    public static string Format(string title, IReadOnlyList<string> errors) =>
        $"{title} ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", errors)}";
}
