using System.Collections;
using System.Numerics;
using System.Text;
using Razorvine.Pickle;

namespace NASiam.Core.Data.Cifar;

/// <summary>
/// A numpy array rebuilt from a CIFAR pickle: dtype name (e.g. "u1"), shape and raw bytes in C or
/// Fortran order. Built only by the two numpy reconstructors <see cref="CifarPythonReader"/> registers.
/// </summary>
public sealed class PickledNdArray
{
    public long[] Shape { get; internal set; } = [];
    public string Dtype { get; internal set; } = "";
    public bool FortranOrder { get; internal set; }
    public byte[] Data { get; internal set; } = [];

    /// <summary>Razorvine's BUILD hook: numpy's ndarray state (version, shape, dtype, is_fortran, raw data).</summary>
    public void __setstate__(object[] state)
    {
        if (state is not { Length: 5 } || state[1] is not object[] shape || state[2] is not PickledDtype dtype || state[3] is not bool fortran)
            throw new PickleException("numpy ndarray state must be (version, shape, dtype, is_fortran, data)");
        Shape = CifarPythonReader.Longs(shape, "ndarray shape");
        Dtype = dtype.Name;
        FortranOrder = fortran;
        Data = CifarPythonReader.Bytes(state[4]) ?? throw new PickleException("numpy ndarray data must be bytes");
    }
}

/// <summary>A numpy dtype from a CIFAR pickle: its type string (e.g. "u1") and byte-order character.</summary>
public sealed class PickledDtype
{
    public string Name { get; internal set; } = "";
    public string ByteOrder { get; internal set; } = "|";

    /// <summary>Razorvine's BUILD hook: numpy's dtype state (version, byte order, ...).</summary>
    public void __setstate__(object[] state)
    {
        if (state is { Length: > 1 } && state[1] is string order) ByteOrder = order;
    }
}

/// <summary>
/// Reads one file of the CIFAR python layout (what torchvision downloads): a pickled dict with
/// <c>data</c> (uint8 ndarray [N, 3072], CHW per row) and <c>labels</c> (CIFAR-10) or
/// <c>fine_labels</c>/<c>coarse_labels</c> (CIFAR-100); keys may be bytes (Python 2) or str.
/// Unpickling is done by Razorvine.Pickle (every protocol, 0–5); the only constructors this reader
/// adds are numpy's array and dtype reconstructors (<c>numpy[._]core.multiarray._reconstruct</c>,
/// <c>numpy[._]core.numeric._frombuffer</c> for protocol 5, <c>numpy.dtype</c>). Any other class
/// becomes Razorvine's inert ClassDict (no code is ever run) and is then refused: a file that does
/// not hold exactly a CIFAR batch raises <see cref="InvalidDataException"/> "... is not a CIFAR batch: ...".
/// </summary>
public static class CifarPythonReader
{
    static CifarPythonReader()
    {
        // Razorvine's registry is process-wide; these names are numpy's own and nothing else in
        // the process (TorchSharp.PyBridge registers torch names only) gives them another meaning.
        foreach (var module in new[] { "numpy.core.multiarray", "numpy._core.multiarray" })
            Unpickler.registerConstructor(module, "_reconstruct", new ReconstructConstructor());
        foreach (var module in new[] { "numpy.core.numeric", "numpy._core.numeric" })
            Unpickler.registerConstructor(module, "_frombuffer", new FromBufferConstructor());
        Unpickler.registerConstructor("numpy", "dtype", new DtypeConstructor());
    }

    /// <summary>
    /// Reads <paramref name="file"/>: pixels as CHW bytes [N·3072], labels [N] (CIFAR-10 labels, or the
    /// fine/coarse CIFAR-100 ones by <paramref name="coarse"/>). Throws <see cref="FileNotFoundException"/>
    /// when missing and <see cref="InvalidDataException"/> naming the file when it is truncated,
    /// corrupt or not a CIFAR batch.
    /// </summary>
    public static (byte[] Pixels, long[] Labels) ReadFile(string file, bool cifar100, bool coarse)
    {
        if (!File.Exists(file)) throw new FileNotFoundException($"CIFAR python file '{file}' is missing.", file);
        return Read(File.ReadAllBytes(file), file, cifar100, coarse);
    }

    /// <summary>As <see cref="ReadFile"/> on pickle bytes; <paramref name="source"/> names them in errors.</summary>
    public static (byte[] Pixels, long[] Labels) Read(byte[] pickle, string source, bool cifar100, bool coarse)
    {
        InvalidDataException NotCifar(string why) =>
            new($"CIFAR python file '{source}' is not a CIFAR batch: {why}. Expected a pickled dict with 'data' (uint8 numpy array [N, {CifarBinaryReader.PixelBytes}]) and '{(cifar100 ? "fine_labels'/'coarse_labels" : "labels")}' (list of N ints).");
        object? root;
        try
        {
            using var unpickler = new Unpickler();
            root = unpickler.loads(pickle);
        }
        catch (Exception e) when (e is PickleException or InvalidOpcodeException or InvalidCastException or IndexOutOfRangeException
                                      or ArgumentException or InvalidOperationException or OverflowException or EndOfStreamException
                                      or System.Reflection.TargetInvocationException)
        {
            throw NotCifar($"unpickling failed at {(e is IndexOutOfRangeException or ArgumentException or EndOfStreamException ? "a truncated or corrupt pickle" : "an unexpected object")} ({e.GetBaseException().Message})");
        }
        if (root is not Hashtable table) throw NotCifar($"it holds a {Describe(root)}, not a dict");
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
        {
            var key = entry.Key switch { string s => s, byte[] b => Encoding.Latin1.GetString(b), _ => null };
            if (key is null) throw NotCifar($"a dict key is a {Describe(entry.Key)}, not bytes or str");
            dict[key] = entry.Value;
        }
        var labelKey = cifar100 ? (coarse ? "coarse_labels" : "fine_labels") : "labels";
        if (!dict.TryGetValue("data", out var dataObj)) throw NotCifar($"no key 'data' (keys: {string.Join(", ", dict.Keys.Order(StringComparer.Ordinal))})");
        if (dataObj is not PickledNdArray data) throw NotCifar($"'data' is a {Describe(dataObj)}, not a numpy array");
        if (!dict.TryGetValue(labelKey, out var labelsObj)) throw NotCifar($"no key '{labelKey}' (keys: {string.Join(", ", dict.Keys.Order(StringComparer.Ordinal))})");
        if (labelsObj is not IList labelList) throw NotCifar($"'{labelKey}' is a {Describe(labelsObj)}, not a list of ints");
        if (data.Dtype != "u1" || data.Shape.Length != 2 || data.Shape[1] != CifarBinaryReader.PixelBytes)
            throw NotCifar($"'data' is {data.Dtype} [{string.Join(",", data.Shape)}], not uint8 [N, {CifarBinaryReader.PixelBytes}]");
        var count = data.Shape[0];
        if (data.Data.LongLength != count * CifarBinaryReader.PixelBytes)
            throw NotCifar($"'data' has {data.Data.LongLength} bytes; its shape needs {count * CifarBinaryReader.PixelBytes} (truncated?)");
        var pixels = data.FortranOrder ? ToCOrder(data.Data, count, CifarBinaryReader.PixelBytes) : data.Data;
        if (labelList.Count != count) throw NotCifar($"{labelList.Count} labels for {count} images");
        var classes = cifar100 ? (coarse ? 20 : 100) : 10;
        var labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            if (Long(labelList[i]) is not { } l || l < 0 || l >= classes)
                throw new InvalidDataException($"CIFAR python file '{source}', record {i}: label '{labelList[i]}' is not an int in [0, {classes}).");
            labels[i] = l;
        }
        return (pixels, labels);
    }

    static byte[] ToCOrder(byte[] fortran, long rows, int cols)
    {
        var c = new byte[fortran.LongLength];
        for (long r = 0; r < rows; r++)
            for (long k = 0; k < cols; k++) c[r * cols + k] = fortran[k * rows + r];
        return c;
    }

    static string Describe(object? o) => o switch
    {
        null => "None",
        Razorvine.Pickle.Objects.ClassDict cd => $"Python object of class {cd.ClassName}",
        Hashtable => "dict",
        byte[] => "bytes",
        IList => "list",
        string => "str",
        _ => o.GetType().Name,
    };

    internal static long? Long(object? o) => o switch
    {
        int i => i,
        long l => l,
        BigInteger b when b >= long.MinValue && b <= long.MaxValue => (long)b,
        _ => null,
    };

    internal static long[] Longs(object[] items, string what) =>
        items.Select(d => Long(d) ?? throw new PickleException($"{what} must hold ints")).ToArray();

    /// <summary>bytes (Python 3), a Latin-1 str (Python 2 str / protocol-0 strings) or null.</summary>
    internal static byte[]? Bytes(object? o) => o switch
    {
        byte[] b => b,
        string s => Encoding.Latin1.GetBytes(s),
        _ => null,
    };

    /// <summary>numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b'): an empty array BUILD fills in.</summary>
    sealed class ReconstructConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args is not { Length: 3 } || args[0] is not Razorvine.Pickle.Objects.ClassDictConstructor { module: "numpy", name: "ndarray" })
                throw new PickleException("_reconstruct expects (numpy.ndarray, shape, dtype)");
            return new PickledNdArray();
        }
    }

    /// <summary>numpy.core.numeric._frombuffer(buffer, dtype, shape, order): protocol 5's array form.</summary>
    sealed class FromBufferConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args is not { Length: 4 } || Bytes(args[0]) is not { } data || args[1] is not PickledDtype dtype || args[2] is not object[] shape || args[3] is not string order)
                throw new PickleException("_frombuffer expects (bytes, dtype, shape, order)");
            return new PickledNdArray { Data = data, Dtype = dtype.Name, Shape = Longs(shape, "ndarray shape"), FortranOrder = order == "F" };
        }
    }

    /// <summary>numpy.dtype(name, align, copy).</summary>
    sealed class DtypeConstructor : IObjectConstructor
    {
        public object construct(object[] args)
        {
            if (args is not { Length: >= 1 } || args[0] is not string name)
                throw new PickleException("numpy.dtype expects a type string");
            return new PickledDtype { Name = name };
        }
    }
}
