// Per-image cost of decode + RandomResizedCrop (scale 0.2-1, ratio 3/4-4/3, on the original) + resize to
// 224 px, for each candidate decoder, single-threaded. usage: DecoderBench FOLDER [images=300] [size=224]
using System.Diagnostics;
using NetVips;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SkiaSharp;
using StbImageSharp;

var folder = args[0];
int count = args.Length > 1 ? int.Parse(args[1]) : 300;
int size = args.Length > 2 ? int.Parse(args[2]) : 224;
var files = Directory.EnumerateFiles(folder, "*.JPEG", SearchOption.AllDirectories).Order().Take(count).ToArray();
var bytes = files.Select(File.ReadAllBytes).ToArray(); // page cache warm; file read timed separately below
var rng = new Random(0);

(int x, int y, int w, int h) Box(int width, int height)
{
    double area = width * (double)height;
    for (int i = 0; i < 10; i++)
    {
        double target = area * (0.2 + rng.NextDouble() * 0.8);
        double ratio = Math.Exp(Math.Log(0.75) + rng.NextDouble() * (Math.Log(4.0 / 3) - Math.Log(0.75)));
        int w = (int)Math.Round(Math.Sqrt(target * ratio)), h = (int)Math.Round(Math.Sqrt(target / ratio));
        if (w > 0 && w <= width && h > 0 && h <= height)
            return (rng.Next(0, width - w + 1), rng.Next(0, height - h + 1), w, h);
    }
    return (0, 0, width, height);
}

byte[] Vips(byte[] b)
{
    using var head = NetVips.Image.NewFromBuffer(b, access: Enums.Access.Sequential);
    var (x, y, w, h) = Box(head.Width, head.Height);
    int shrink = 1;
    while (shrink < 8 && Math.Min(w, h) / (shrink * 2) >= size) shrink *= 2;
    using var img = shrink == 1 ? NetVips.Image.NewFromBuffer(b, failOn: Enums.FailOn.Truncated)
        : NetVips.Image.NewFromBuffer(b, $"[shrink={shrink}]", failOn: Enums.FailOn.Truncated);
    int sx = x / shrink, sy = y / shrink, sw = Math.Max(1, Math.Min(w / shrink, img.Width - sx)), sh = Math.Max(1, Math.Min(h / shrink, img.Height - sy));
    using var crop = img.Crop(sx, sy, sw, sh);
    using var resized = crop.Resize((double)size / sw, vscale: (double)size / sh, kernel: Enums.Kernel.Linear);
    return resized.WriteToMemory<byte>();
}

byte[] Skia(byte[] b)
{
    using var data = SKData.CreateCopy(b);
    using var codec = SKCodec.Create(data);
    var info = codec.Info;
    var (x, y, w, h) = Box(info.Width, info.Height);
    // JPEG's DCT scaling (1/2, 1/4, 1/8) when the crop stays at least `size` after it.
    float scale = 1;
    while (scale > 0.125f && Math.Min(w, h) * scale / 2 >= size) scale /= 2;
    var dims = codec.GetScaledDimensions(scale);
    using var full = new SKBitmap(new SKImageInfo(dims.Width, dims.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
    var result = codec.GetPixels(full.Info, full.GetPixels());
    if (result is not (SKCodecResult.Success)) throw new InvalidDataException(result.ToString());
    float fx = (float)dims.Width / info.Width, fy = (float)dims.Height / info.Height;
    using var target = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
    using var canvas = new SKCanvas(target);
    using var image = SKImage.FromBitmap(full);
    canvas.DrawImage(image, new SKRect(x * fx, y * fy, (x + w) * fx, (y + h) * fy), new SKRect(0, 0, size, size),
        new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear), null);
    canvas.Flush();
    return target.Bytes;
}

byte[] Sharp(byte[] b)
{
    using var img = SixLabors.ImageSharp.Image.Load<Rgb24>(b);
    var (x, y, w, h) = Box(img.Width, img.Height);
    img.Mutate(c => c.Crop(new Rectangle(x, y, w, h)).Resize(size, size, KnownResamplers.Triangle));
    var o = new byte[size * size * 3];
    img.CopyPixelDataTo(o);
    return o;
}

byte[] Stb(byte[] b)
{
    var img = ImageResult.FromMemory(b, ColorComponents.RedGreenBlue);
    var (x, y, w, h) = Box(img.Width, img.Height);
    // Bilinear with area averaging over the source footprint (what an antialiased resize does), in C#.
    var o = new byte[size * size * 3];
    double sx = (double)w / size, sy = (double)h / size;
    for (int j = 0; j < size; j++)
    {
        int y0 = y + (int)(j * sy), y1 = Math.Max(y0 + 1, y + (int)((j + 1) * sy));
        for (int i = 0; i < size; i++)
        {
            int x0 = x + (int)(i * sx), x1 = Math.Max(x0 + 1, x + (int)((i + 1) * sx));
            for (int c = 0; c < 3; c++)
            {
                int sum = 0;
                for (int yy = y0; yy < y1; yy++) for (int xx = x0; xx < x1; xx++) sum += img.Data[(yy * img.Width + xx) * 3 + c];
                o[(j * size + i) * 3 + c] = (byte)(sum / ((y1 - y0) * (x1 - x0)));
            }
        }
    }
    return o;
}

byte[] SkiaNoMip(byte[] b) => SkiaWith(b, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None));
byte[] SkiaWith(byte[] b, SKSamplingOptions sampling)
{
    using var codec = SKCodec.Create(new MemoryStream(b));
    var info = codec.Info;
    var (x, y, w, h) = Box(info.Width, info.Height);
    using var full = new SKBitmap(new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
    var result = codec.GetPixels(full.Info, full.GetPixels());
    if (result is not (SKCodecResult.Success)) throw new InvalidDataException(result.ToString());
    using var target = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
    using var canvas = new SKCanvas(target);
    using var image = SKImage.FromPixels(full.PeekPixels());
    canvas.DrawImage(image, new SKRect(x, y, x + w, y + h), new SKRect(0, 0, size, size), sampling, null);
    canvas.Flush();
    return target.Bytes;
}
byte[] SkiaDecode(byte[] b)
{
    using var codec = SKCodec.Create(new MemoryStream(b));
    using var full = new SKBitmap(new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
    codec.GetPixels(full.Info, full.GetPixels());
    return [];
}
byte[] VipsDecode(byte[] b) { using var i = NetVips.Image.NewFromBuffer(b); i.WriteToMemory<byte>(); return []; }
byte[] SharpDecode(byte[] b) { using var i = SixLabors.ImageSharp.Image.Load<Rgb24>(b); return []; }
byte[] StbDecode(byte[] b) { ImageResult.FromMemory(b, ColorComponents.RedGreenBlue); return []; }

NetVips.Cache.Max = 0; // no operation cache: every image is new
NetVips.NetVips.Concurrency = 1;
var decoders = new (string Name, Func<byte[], byte[]> Run)[]
{
    ("NetVips 3.2.0 / libvips 8.18.7 (shrink-on-load)", Vips),
    ("SkiaSharp 4.155.0 (JPEG DCT scaling)", Skia),
    ("SixLabors.ImageSharp 2.1.13", Sharp),
    ("StbImageSharp 2.30.16 (+ C# box resize)", Stb),
    ("SkiaSharp, no DCT scaling, linear w/o mipmaps", SkiaNoMip),
    ("decode only: NetVips", VipsDecode),
    ("decode only: SkiaSharp", SkiaDecode),
    ("decode only: ImageSharp", SharpDecode),
    ("decode only: StbImageSharp", StbDecode),
};
Console.WriteLine($"host: {File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':')[1].Trim()}, {Environment.ProcessorCount} cores, load {File.ReadAllText("/proc/loadavg").Trim()}");
Console.WriteLine($"{files.Length} JPEGs from {folder}, mean {bytes.Average(b => b.Length) / 1024:F0} KB; decode + RRC(0.2-1) + resize to {size}, one thread");
var sw0 = Stopwatch.StartNew();
foreach (var f in files) File.ReadAllBytes(f);
Console.WriteLine($"  file read (page cache): {sw0.Elapsed.TotalMilliseconds * 1000 / files.Length:F0} us/image");
for (int round = 0; round < 2; round++)
    foreach (var (name, run) in decoders)
    {
        foreach (var b in bytes.Take(20)) run(b); // warm-up
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        foreach (var b in bytes) run(b);
        var wall = sw.Elapsed.TotalMilliseconds / bytes.Length;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / bytes.Length;
        if (round == 1) Console.WriteLine($"  {name,-50} {wall,6:F2} ms/image wall, {cpu,6:F2} ms/image CPU");
    }
