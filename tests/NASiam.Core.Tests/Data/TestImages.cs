using System.Buffers.Binary;
using System.IO.Compression;

namespace NASiam.Core.Tests.Data;

/// <summary>
/// Writes small, valid image files for the folder tests: PNG (8-bit RGB), baseline JPEG and binary
/// PPM/PGM. Each pixel's colour comes from <c>colour(x, y)</c>.
/// </summary>
static class TestImages
{
    public static void WritePng(string file, int width, int height, byte r, byte g, byte b) =>
        File.WriteAllBytes(file, Png(width, height, (_, _) => (r, g, b)));

    public static byte[] Png(int width, int height, Func<int, int, (byte R, byte G, byte B)> colour)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < height; y++)
        {
            raw.WriteByte(0);
            for (int x = 0; x < width; x++) { var (r, g, b) = colour(x, y); raw.WriteByte(r); raw.WriteByte(g); raw.WriteByte(b); }
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; ihdr[9] = 2;
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(body);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(body));
        s.Write(crc);
    }

    static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var d in data)
        {
            c ^= d;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    /// <summary>
    /// A baseline JPEG (SOF0, YCbCr 4:4:4, all quantisers 1) whose 8×8 blocks carry only their mean
    /// colour (AC coefficients zero): exact enough to check decoded colours to ±3. Width and height
    /// must be multiples of 8.
    /// </summary>
    public static byte[] Jpeg(int width, int height, Func<int, int, (byte R, byte G, byte B)> colour)
    {
        if (width % 8 != 0 || height % 8 != 0) throw new ArgumentException("JPEG test images must be multiples of 8 px.");
        var o = new MemoryStream();
        void Marker(byte m, byte[] body)
        {
            o.WriteByte(0xFF); o.WriteByte(m);
            o.WriteByte((byte)((body.Length + 2) >> 8)); o.WriteByte((byte)(body.Length + 2));
            o.Write(body);
        }
        o.WriteByte(0xFF); o.WriteByte(0xD8);
        Marker(0xDB, [0, .. Enumerable.Repeat((byte)1, 64)]);
        Marker(0xC0, [8, (byte)(height >> 8), (byte)height, (byte)(width >> 8), (byte)width, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
        byte[] dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        Marker(0xC4, [0x00, .. dcBits, .. Enumerable.Range(0, 12).Select(i => (byte)i)]);
        Marker(0xC4, [0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]); // AC: only EOB, code "0"
        Marker(0xDA, [3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]);
        // Canonical DC codes.
        var dcCode = new (int Code, int Length)[12];
        int code = 0, symbol = 0;
        for (int len = 1; len <= 16; len++, code <<= 1)
            for (int i = 0; i < dcBits[len - 1]; i++) dcCode[symbol++] = (code++, len);
        long acc = 0; int nbits = 0;
        void Bits(int value, int length)
        {
            acc = (acc << length) | (uint)(value & ((1 << length) - 1));
            nbits += length;
            while (nbits >= 8)
            {
                var b = (byte)(acc >> (nbits - 8));
                o.WriteByte(b);
                if (b == 0xFF) o.WriteByte(0);
                nbits -= 8;
            }
        }
        var previous = new int[3];
        for (int by = 0; by < height; by += 8)
            for (int bx = 0; bx < width; bx += 8)
            {
                var mean = new double[3];
                for (int y = by; y < by + 8; y++)
                    for (int x = bx; x < bx + 8; x++)
                    {
                        var (r, g, b) = colour(x, y);
                        mean[0] += 0.299 * r + 0.587 * g + 0.114 * b;
                        mean[1] += 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
                        mean[2] += 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
                    }
                for (int c = 0; c < 3; c++)
                {
                    var dc = (int)Math.Round((mean[c] / 64 - 128) * 8);
                    var diff = dc - previous[c];
                    previous[c] = dc;
                    int category = diff == 0 ? 0 : 32 - int.LeadingZeroCount(Math.Abs(diff));
                    Bits(dcCode[category].Code, dcCode[category].Length);
                    if (category > 0) Bits(diff > 0 ? diff : diff + (1 << category) - 1, category);
                    Bits(0, 1); // EOB
                }
            }
        if (nbits > 0) Bits((1 << (8 - nbits)) - 1, 8 - nbits);
        o.WriteByte(0xFF); o.WriteByte(0xD9);
        return o.ToArray();
    }

    /// <summary>A binary PPM (P6) or, with <paramref name="grey"/>, PGM (P5), maxval 255.</summary>
    public static byte[] Pnm(int width, int height, bool grey, Func<int, int, (byte R, byte G, byte B)> colour)
    {
        var o = new MemoryStream();
        o.Write(System.Text.Encoding.ASCII.GetBytes($"{(grey ? "P5" : "P6")}\n# test\n{width} {height}\n255\n"));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = colour(x, y);
                if (grey) o.WriteByte(r);
                else { o.WriteByte(r); o.WriteByte(g); o.WriteByte(b); }
            }
        return o.ToArray();
    }
}
