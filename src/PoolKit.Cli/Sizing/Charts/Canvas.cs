namespace PoolKit.Cli.Sizing.Charts;

/// <summary>
/// A small RGB raster with the few primitives a line chart needs: rectangles, thick (optionally dashed) lines, round
/// markers and bitmap text, horizontal or turned a quarter to the left. No anti-aliasing; pixels outside the canvas are
/// clipped. Saved as a PNG by <see cref="PngWriter"/>.
/// </summary>
internal sealed class Canvas
{
    private readonly byte[] _rgb;

    /// <summary>Creates a canvas filled with <paramref name="background"/>.</summary>
    public Canvas(int width, int height, Rgb background)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
        _rgb = new byte[width * height * 3];
        FillRectangle(0, 0, width, height, background);
    }

    /// <summary>Gets the width in pixels.</summary>
    public int Width { get; }

    /// <summary>Gets the height in pixels.</summary>
    public int Height { get; }

    /// <summary>Returns the colour of a pixel.</summary>
    public Rgb GetPixel(int x, int y)
    {
        int i = ((y * Width) + x) * 3;
        return new Rgb(_rgb[i], _rgb[i + 1], _rgb[i + 2]);
    }

    /// <summary>Sets a pixel; does nothing outside the canvas.</summary>
    public void SetPixel(int x, int y, Rgb color)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height)
        {
            return;
        }

        int i = ((y * Width) + x) * 3;
        _rgb[i] = color.R;
        _rgb[i + 1] = color.G;
        _rgb[i + 2] = color.B;
    }

    /// <summary>Fills the rectangle whose top-left corner is (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public void FillRectangle(int x, int y, int width, int height, Rgb color)
    {
        for (int row = y; row < y + height; row++)
        {
            for (int column = x; column < x + width; column++)
            {
                SetPixel(column, row, color);
            }
        }
    }

    /// <summary>Fills a disc of radius <paramref name="radius"/> centred on (<paramref name="cx"/>, <paramref name="cy"/>).</summary>
    public void FillCircle(double cx, double cy, double radius, Rgb color)
    {
        for (int y = (int)Math.Floor(cy - radius); y <= (int)Math.Ceiling(cy + radius); y++)
        {
            for (int x = (int)Math.Floor(cx - radius); x <= (int)Math.Ceiling(cx + radius); x++)
            {
                double dx = x - cx;
                double dy = y - cy;
                if ((dx * dx) + (dy * dy) <= radius * radius)
                {
                    SetPixel(x, y, color);
                }
            }
        }
    }

    /// <summary>
    /// Draws a line <paramref name="thickness"/> pixels wide; with <paramref name="dash"/> and <paramref name="gap"/>
    /// positive, draws <paramref name="dash"/> pixels, skips <paramref name="gap"/>, and so on.
    /// </summary>
    public void DrawLine(double x0, double y0, double x1, double y1, Rgb color, int thickness = 1, int dash = 0, int gap = 0)
    {
        double length = Math.Sqrt(((x1 - x0) * (x1 - x0)) + ((y1 - y0) * (y1 - y0)));
        int steps = Math.Max(1, (int)Math.Ceiling(length * 2)); // half-pixel steps leave no holes
        int half = (thickness - 1) / 2;
        for (int i = 0; i <= steps; i++)
        {
            double travelled = length * i / steps;
            if (dash > 0 && gap > 0 && travelled % (dash + gap) >= dash)
            {
                continue;
            }

            int x = (int)Math.Round(x0 + ((x1 - x0) * i / steps));
            int y = (int)Math.Round(y0 + ((y1 - y0) * i / steps));
            FillRectangle(x - half, y - half, thickness, thickness, color);
        }
    }

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (<paramref name="x"/>, <paramref name="y"/>).</summary>
    public void DrawText(int x, int y, string text, Rgb color)
    {
        for (int i = 0; i < text.Length; i++)
        {
            for (int gy = 0; gy < BitmapFont.Height; gy++)
            {
                for (int gx = 0; gx < BitmapFont.Width; gx++)
                {
                    if (BitmapFont.IsInk(text[i], gx, gy))
                    {
                        SetPixel(x + (i * BitmapFont.Width) + gx, y + gy, color);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Draws <paramref name="text"/> turned a quarter to the left (reading upwards), its first character's bottom-left
    /// corner at (<paramref name="x"/>, <paramref name="y"/>): it occupies x to x + <see cref="BitmapFont.Height"/>
    /// and y up to y - its length.
    /// </summary>
    public void DrawTextUpwards(int x, int y, string text, Rgb color)
    {
        for (int i = 0; i < text.Length; i++)
        {
            for (int gy = 0; gy < BitmapFont.Height; gy++)
            {
                for (int gx = 0; gx < BitmapFont.Width; gx++)
                {
                    if (BitmapFont.IsInk(text[i], gx, gy))
                    {
                        SetPixel(x + gy, y - (i * BitmapFont.Width) - gx, color);
                    }
                }
            }
        }
    }

    /// <summary>Saves the canvas as a PNG file, replacing it if it exists.</summary>
    public void SavePng(string path)
    {
        using FileStream file = File.Create(path);
        PngWriter.Write(file, Width, Height, _rgb);
    }
}
