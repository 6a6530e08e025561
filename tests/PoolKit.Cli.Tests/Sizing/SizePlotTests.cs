using System.Buffers.Binary;
using System.IO.Compression;
using PoolKit.Cli.Sizing;
using PoolKit.Cli.Sizing.Charts;
using PoolKit.Npgsql;

namespace PoolKit.Cli.Tests.Sizing;

/// <summary>The chart <c>size --plot</c> writes: a PNG any decoder reads, with both series and the recommendation drawn.</summary>
public sealed class SizePlotTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("poolkit-plot-tests-").FullName;

    [Fact]
    public void Save_ThreeSizes_WritesADecodablePngWithBothSeriesAndTheRecommendation()
    {
        SizeResult result = Result(recommended: 4);
        string path = Path.Combine(_directory, "chart.png");

        SizePlot.Save(result, path);

        (int width, int height, byte[] rgb) = DecodePng(File.ReadAllBytes(path));
        Assert.Equal((SizePlot.Width, SizePlot.Height), (width, height));
        Assert.True(Count(rgb, SizePlot.ThroughputColor) > 200, "the throughput series is missing");
        Assert.True(Count(rgb, SizePlot.LatencyColor) > 200, "the p99 series is missing");
        Assert.True(Count(rgb, SizePlot.RecommendedColor) > 100, "the recommended-size line is missing");
        Assert.True(Count(rgb, Rgb.Ink) > 2_000, "the axes and labels are missing");
    }

    [Fact]
    public void Draw_NoRecommendation_DrawsNoRecommendedLine()
    {
        Canvas canvas = SizePlot.Draw(Result(recommended: null));

        Assert.Equal(0, Count(canvas, SizePlot.RecommendedColor));
        Assert.True(Count(canvas, SizePlot.ThroughputColor) > 200);
    }

    [Fact]
    public void Draw_HigherThroughput_PutsTheMarkerHigher()
    {
        // The marker of the best size (4, the last of three) must be above that of size 1: y grows downwards.
        Canvas canvas = SizePlot.Draw(Result(recommended: null));

        int firstColumn = ColumnCenter(0, 3);
        int lastColumn = ColumnCenter(2, 3);
        Assert.True(TopmostPixel(canvas, lastColumn, SizePlot.ThroughputColor) < TopmostPixel(canvas, firstColumn, SizePlot.ThroughputColor));
    }

    [Theory]
    [InlineData(1234, 1500, 500)]
    [InlineData(9.7, 12.5, 2.5)]
    [InlineData(0.42, 0.5, 0.1)]
    [InlineData(100, 125, 25)]
    [InlineData(0, 1, 0.2)]
    public void Scale_Maximum_ReturnsRoundTopAtOrAboveIt(double max, double top, double step)
    {
        (double actualTop, double actualStep) = SizePlot.Scale(max);

        Assert.Equal(top, actualTop, 1e-9);
        Assert.Equal(step, actualStep, 1e-9);
        Assert.True(actualTop >= max);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static SizeResult Result(int? recommended) => new()
    {
        Workload = "pgbench-like",
        ResetMode = NpgsqlResetMode.Discard,
        Server = "test",
        Clients = 8,
        Warmup = TimeSpan.Zero,
        Duration = TimeSpan.FromSeconds(2),
        TolerancePercent = 5,
        Measurements =
        [
            new SizeMeasurement(1, 2_000, 0, 2, 0.8, 3.5, 5, 1),
            new SizeMeasurement(2, 3_800, 0, 2, 0.6, 2.1, 4, 2),
            new SizeMeasurement(4, 4_000, 0, 2, 0.5, 1.9, 4, 4),
        ],
        Recommendation = recommended is { } size ? new SizeRecommendation(4, 2_000, size, 2_000) : null,
    };

    private static int ColumnCenter(int index, int count) => (int)Math.Round(90 + ((SizePlot.Width - 180) * (index + 0.5) / count));

    private static int TopmostPixel(Canvas canvas, int x, Rgb color)
    {
        for (int y = 0; y < canvas.Height; y++)
        {
            if (canvas.GetPixel(x, y) == color)
            {
                return y;
            }
        }

        throw new Xunit.Sdk.XunitException($"no pixel of {color} in column {x}");
    }

    private static int Count(Canvas canvas, Rgb color)
    {
        int count = 0;
        for (int y = 0; y < canvas.Height; y++)
        {
            for (int x = 0; x < canvas.Width; x++)
            {
                count += canvas.GetPixel(x, y) == color ? 1 : 0;
            }
        }

        return count;
    }

    private static int Count(byte[] rgb, Rgb color)
    {
        int count = 0;
        for (int i = 0; i < rgb.Length; i += 3)
        {
            count += rgb[i] == color.R && rgb[i + 1] == color.G && rgb[i + 2] == color.B ? 1 : 0;
        }

        return count;
    }

    /// <summary>An independent reader for what <see cref="PngWriter"/> writes: checks signature, chunk CRCs, IHDR, and inflates IDAT.</summary>
    private static (int Width, int Height, byte[] Rgb) DecodePng(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        int offset = 8;
        int width = 0;
        int height = 0;
        using MemoryStream idat = new();
        bool ended = false;
        while (!ended)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(offset));
            string type = System.Text.Encoding.ASCII.GetString(png, offset + 4, 4);
            byte[] data = png[(offset + 8)..(offset + 8 + length)];
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8 + length));
            Assert.Equal(Crc32(png.AsSpan(offset + 4, length + 4)), crc);
            switch (type)
            {
                case "IHDR":
                    width = BinaryPrimitives.ReadInt32BigEndian(data);
                    height = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(4));
                    Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, data[8..13]);
                    break;
                case "IDAT":
                    idat.Write(data);
                    break;
                case "IEND":
                    ended = true;
                    break;
            }

            offset += 12 + length;
        }

        Assert.Equal(png.Length, offset);
        idat.Position = 0;
        using ZLibStream zlib = new(idat, CompressionMode.Decompress);
        using MemoryStream raw = new();
        zlib.CopyTo(raw);
        byte[] rows = raw.ToArray();
        Assert.Equal(height * ((width * 3) + 1), rows.Length);
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            Assert.Equal(0, rows[y * ((width * 3) + 1)]);
            Array.Copy(rows, (y * ((width * 3) + 1)) + 1, rgb, y * width * 3, width * 3);
        }

        return (width, height, rgb);
    }

    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        // Bitwise CRC-32, deliberately not the table-driven one of the code under test.
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
