namespace PoolKit.Cli.Sizing.Charts;

/// <summary>An opaque 8-bit-per-channel colour.</summary>
/// <param name="R">Red.</param>
/// <param name="G">Green.</param>
/// <param name="B">Blue.</param>
internal readonly record struct Rgb(byte R, byte G, byte B)
{
    /// <summary>White, the background.</summary>
    public static Rgb White => new(255, 255, 255);

    /// <summary>Near-black, for text and axes.</summary>
    public static Rgb Ink => new(34, 34, 34);

    /// <summary>Light grey, for grid lines.</summary>
    public static Rgb Grid => new(225, 225, 225);
}
