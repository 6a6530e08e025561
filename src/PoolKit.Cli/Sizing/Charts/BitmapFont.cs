namespace PoolKit.Cli.Sizing.Charts;

/// <summary>
/// A 7 by 13 pixel monospaced bitmap font for printable ASCII (32 to 126), enough for a chart's title, axis labels
/// and legend without a font file or a native text renderer. The glyphs were rasterized once from DejaVu Sans Mono
/// at 11.5 px (thresholded at 40 % coverage); characters outside the range draw as '?'.
/// </summary>
internal static class BitmapFont
{
    /// <summary>The advance from one character to the next, in pixels.</summary>
    public const int Width = 7;

    /// <summary>The height of a line, in pixels.</summary>
    public const int Height = 13;

    private const int First = 32;
    private const int Last = 126;

    // One byte per glyph row, bit x set when pixel x of that row is ink; Height rows per glyph, from ' ' to '~'.
    private static readonly byte[] s_glyphs = Convert.FromBase64String(
        "AAAAAAAAAAAAAAAAAAAYGBgYGAgAGBgAAAAANDQ0AAAAAAAAAAAAAABoLH80NH8eGgAAAAAIPj4OHjhofj4ICAAADw8Pfxx/WFh4AAAAABwGBgYOW3N3fgAAAAAICAgAAAAAAAAAAAAQGAgMDAwMDAgYEAAADAwYGBgYGBgYDAwAAAAILjw8LggAAAAAAAAAAAAICAh/CAgIAAAAAAAAAAAAAAAYHAwAAAAAAAAAADwAAAAAAAAAAAAAAAAAABwcAAAAACAwMBgYDAwGBgMAAAA8NmZje2NmNjwAAAAAHhgYGBgYGBh+AAAAAD42IDAwGAwGfgAAAAA+NiAwPDBgNz4AAAAAODg8NDYzfzAwAAAAAD4GBj4wYGAzPgAAAAA8LgY/d2dmdjwAAAAAfzAwMBgYCAwMAAAAAD42ZjY+dmN2PgAAAAA+NmNjdn5gNh4AAAAAAAAAHBwAABwcAAAAAAAAABwcAAAYHAwAAAAAAGB8Dw98YAAAAAAAAAAAAH8AfwAAAAAAAAAABx54eB4HAAAAAAA8NjA4GAgADAwAAAAAADxmQ3ttbXsDDjwAABwcHDY2Nn5jYwAAAAA+dmZ2PnZmdj4AAAAAPG4GBgMGBm48AAAAAB87Y2NjY2M7HwAAAAB+BgYGfgYGBn4AAAAAfgYGBn4GBgYGAAAAADxuBgNzY2ZuPAAAAABjY2Njf2NjY2MAAAAAPhgYGBgYGBg+AAAAADwwMDAwMDAzHgAAAABjMxsPHxszc2MAAAAABgYGBgYGBgZ+AAAAAGd3d39/e2NjYwAAAABnZ29va3tzc3MAAAAAPjZiY2NjYjY+AAAAAD52ZnY+BgYGBgAAAAA+NmJjY2NiNj4wMAAAPzNjMz8zM2NjAAAAAD42AwY+cGB2PgAAAAB/GBgYGBgYGBgAAAAAY2NjY2NjYjY+AAAAAGNjZjY2NBwcHAAAAABDQ3t/f392djYAAAAAYzY8HBwcNmZjAAAAAGNmNhwcGBgYGAAAAAB+YDAYGAwOBn4AAAA8DAwMDAwMDAwMPAAAAAMGBgwMGBgwMCAAABwYGBgYGBgYGBgcAAAAHD5jAAAAAAAAAAAAAAAAAAAAAAAAAAAAfwwIAAAAAAAAAAAAAAAAAAA+MGB+Znd+AAAABgYGPjZmZmY2PgAAAAAAADxuBgYGbjwAAAAgICA+NiMjIzY+AAAAAAAAPDZjfwNmPAAAAHgYCH4ICAgICAgAAAAAAAA+NiMjIzY+IDYcBgYGPjYmZmZmZgAAABgAAB4YGBgYGH4AAAAYAAAeGBgYGBgYGBgOBgYGdj4eHjY2ZgAAAA4MDAwMDAwMDDgAAAAAAAB/e3tra2trAAAAAAAAPjYmZmZmZgAAAAAAAD42YmNiNj4AAAAAAAA+NmZmZjY+BgYGAAAAfnZiY2J2fmBgYAAAAHwcDAwMDAwAAAAAAAA+NgY8MDY+AAAAAAwMPwwMDAwMOAAAAAAAAGZmZmZmdn4AAAAAAABjZjY2PBwcAAAAAAAAQ2N7f342NgAAAAAAAGY2HBwcNmMAAAAAAABjZjY2PBwYGAwOAAAAPjAYGAwGPgAAADgYGBgMDgwYGBg4AAAICAgICAgICAgICAgADgwICBg4GBgIDA4AAAAAAAAAf3sAAAAAAAA=");

    /// <summary>Returns whether pixel (<paramref name="x"/>, <paramref name="y"/>) of <paramref name="c"/> is ink.</summary>
    public static bool IsInk(char c, int x, int y)
    {
        int index = c is >= (char)First and <= (char)Last ? c - First : '?' - First;
        return (s_glyphs[(index * Height) + y] & (1 << x)) != 0;
    }

    /// <summary>Returns the width of <paramref name="text"/> in pixels at scale 1.</summary>
    public static int Measure(string text) => text.Length * Width;
}
