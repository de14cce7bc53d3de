namespace NASiam.Core.Data.Cifar;

/// <summary>
/// Reads the CIFAR binary layout: each record is the label byte(s) followed by 3072 pixel bytes
/// (1024 R, 1024 G, 1024 B, row-major 32x32). CIFAR-10 records have one label byte; CIFAR-100
/// records have coarse then fine label bytes.
/// </summary>
public static class CifarBinaryReader
{
    public const int PixelBytes = 3 * 32 * 32;

    /// <summary>
    /// Reads one file. Pixels come back as CHW bytes, labels per record: the single label
    /// (CIFAR-10) or the coarse/fine one chosen by <paramref name="coarse"/> (CIFAR-100).
    /// </summary>
    public static (byte[] Pixels, long[] Labels) ReadFile(string file, bool cifar100, bool coarse)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"CIFAR binary file '{file}' is missing.", file);
        var bytes = File.ReadAllBytes(file);
        var labelBytes = cifar100 ? 2 : 1;
        var recordBytes = labelBytes + PixelBytes;
        if (bytes.Length == 0 || bytes.Length % recordBytes != 0)
            throw new InvalidDataException($"CIFAR binary file '{file}' has {bytes.Length} bytes; expected a positive multiple of {recordBytes} (records of {labelBytes} label byte(s) + {PixelBytes} pixels). The file is truncated or not a {(cifar100 ? "CIFAR-100" : "CIFAR-10")} binary file.");
        var count = bytes.Length / recordBytes;
        var pixels = new byte[(long)count * PixelBytes];
        var labels = new long[count];
        var classes = cifar100 ? (coarse ? 20 : 100) : 10;
        for (int i = 0; i < count; i++)
        {
            var offset = (long)i * recordBytes;
            var label = bytes[offset + (cifar100 && !coarse ? 1 : 0)];
            if (label >= classes)
                throw new InvalidDataException($"CIFAR binary file '{file}', record {i}: label {label} is not in [0, {classes}).");
            labels[i] = label;
            Array.Copy(bytes, offset + labelBytes, pixels, (long)i * PixelBytes, PixelBytes);
        }
        return (pixels, labels);
    }
}
