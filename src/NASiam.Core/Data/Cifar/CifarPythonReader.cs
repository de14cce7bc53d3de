namespace NASiam.Core.Data.Cifar;

/// <summary>
/// Reads one file of the CIFAR python layout (what torchvision downloads): a pickled dict with
/// <c>data</c> (uint8 ndarray [N, 3072], CHW per row) and <c>labels</c> (CIFAR-10) or
/// <c>fine_labels</c>/<c>coarse_labels</c> (CIFAR-100).
/// </summary>
public static class CifarPythonReader
{
    public static (byte[] Pixels, long[] Labels) ReadFile(string file, bool cifar100, bool coarse)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"CIFAR python file '{file}' is missing.", file);
        var root = PickleReader.Load(File.ReadAllBytes(file), file) as Dictionary<string, object?>
                   ?? throw new InvalidDataException($"CIFAR python file '{file}' does not hold a dict.");
        var labelKey = cifar100 ? (coarse ? "coarse_labels" : "fine_labels") : "labels";
        if (!root.TryGetValue("data", out var dataObj) || dataObj is not PickledNdArray data)
            throw new InvalidDataException($"CIFAR python file '{file}': expected key 'data' holding a numpy array.");
        if (!root.TryGetValue(labelKey, out var labelsObj) || labelsObj is not List<object?> labelList)
            throw new InvalidDataException($"CIFAR python file '{file}': expected key '{labelKey}' holding a list of ints.");
        if (data.Dtype is not ("u1" or "|u1") || data.FortranOrder || data.Shape.Length != 2 || data.Shape[1] != CifarBinaryReader.PixelBytes)
            throw new InvalidDataException($"CIFAR python file '{file}': 'data' must be a C-ordered uint8 array [N, {CifarBinaryReader.PixelBytes}], got {data.Dtype} [{string.Join(",", data.Shape)}].");
        var count = data.Shape[0];
        if (data.Data.LongLength != count * CifarBinaryReader.PixelBytes)
            throw new InvalidDataException($"CIFAR python file '{file}': 'data' has {data.Data.LongLength} bytes; its shape needs {count * CifarBinaryReader.PixelBytes}.");
        if (labelList.Count != count)
            throw new InvalidDataException($"CIFAR python file '{file}': {labelList.Count} labels for {count} images.");
        var classes = cifar100 ? (coarse ? 20 : 100) : 10;
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            if (labelList[i] is not long l || l < 0 || l >= classes)
                throw new InvalidDataException($"CIFAR python file '{file}', record {i}: label '{labelList[i]}' is not an int in [0, {classes}).");
            labels[i] = l;
        }
        return (data.Data, labels);
    }
}
