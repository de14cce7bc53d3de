using System.Buffers.Binary;
using System.Text;

namespace NASiam.Core.Data.Cifar;

/// <summary>A numpy array rebuilt from a pickle: dtype string (e.g. "u1"), shape and raw bytes (C order).</summary>
public sealed class PickledNdArray
{
    public long[] Shape { get; internal set; } = [];
    public string Dtype { get; internal set; } = "";
    public bool FortranOrder { get; internal set; }
    public byte[] Data { get; internal set; } = [];
}

/// <summary>
/// A strict reader of the pickle subset the CIFAR python files use (protocols 2–4 as written by
/// Python 2 cPickle and Python 3): dicts with bytes or str keys, lists and tuples of ints,
/// bytes/str, and numpy arrays via <c>numpy.core.multiarray._reconstruct</c> / <c>numpy.ndarray</c> /
/// <c>numpy.dtype</c> (and <c>_codecs.encode</c>, Python 3's protocol-2 form of bytes). Anything
/// else is rejected with <see cref="InvalidDataException"/>; no code is ever executed.
/// Results: dict → Dictionary&lt;string, object?&gt; (bytes keys decoded as Latin-1), list → List&lt;object?&gt;,
/// tuple → object?[], int → long, bytes → byte[], str → string, ndarray → <see cref="PickledNdArray"/>.
/// </summary>
public sealed class PickleReader
{
    sealed class Mark;
    sealed class Global(string name) { public string Name { get; } = name; }
    sealed class DtypeObject { public string Kind = ""; }

    static readonly Mark MarkObject = new();
    readonly byte[] _data;
    readonly string _source;
    int _pos;
    readonly List<object?> _stack = [];
    readonly Dictionary<long, object?> _memo = [];

    PickleReader(byte[] data, string source) { _data = data; _source = source; }

    /// <summary>Unpickles <paramref name="data"/>; <paramref name="source"/> names the file in errors.</summary>
    public static object? Load(byte[] data, string source) => new PickleReader(data, source).Run();

    InvalidDataException Bad(string what) => new($"Pickle file '{_source}' at byte {_pos}: {what}. Expected a CIFAR python batch (a pickled dict of numpy uint8 data and label lists).");

    object? Run()
    {
        while (true)
        {
            var op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break;                                  // PROTO
                case 0x95: ReadBytes(8); break;                                // FRAME (protocol 4)
                case (byte)'.': return Pop();                                  // STOP
                case (byte)'}': Push(new Dictionary<string, object?>()); break; // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;              // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break;           // EMPTY_TUPLE
                case (byte)'(': Push(MarkObject); break;                       // MARK
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'K': Push((long)ReadByte()); break;                 // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case 0x8a: Push(ReadLong1()); break;                           // LONG1
                case (byte)'U': Push(ReadBytes(ReadByte()).ToArray()); break;  // SHORT_BINSTRING
                case (byte)'T': Push(ReadBytes(ReadLength4()).ToArray()); break; // BINSTRING
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break;  // SHORT_BINBYTES
                case (byte)'B': Push(ReadBytes(ReadLength4()).ToArray()); break; // BINBYTES
                case 0x8c: Push(Encoding.UTF8.GetString(ReadBytes(ReadByte()))); break; // SHORT_BINUNICODE
                case (byte)'X': Push(Encoding.UTF8.GetString(ReadBytes(ReadLength4()))); break; // BINUNICODE
                case (byte)'q': _memo[ReadByte()] = Peek(); break;             // BINPUT
                case (byte)'r': _memo[ReadLength4()] = Peek(); break;          // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break;                 // MEMOIZE
                case (byte)'h': Push(Memo(ReadByte())); break;                 // BINGET
                case (byte)'j': Push(Memo(ReadLength4())); break;              // LONG_BINGET
                case (byte)'c': Push(new Global(ReadLine() + "." + ReadLine())); break; // GLOBAL
                case 0x93: { var n = Pop() as string; var m = Pop() as string; Push(new Global(m + "." + n)); break; } // STACK_GLOBAL
                case 0x85: Push(new[] { Pop() }); break;                       // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'t': Push(PopToMark().ToArray()); break;            // TUPLE
                case (byte)'l': Push(PopToMark()); break;                      // LIST
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; } // APPEND
                case (byte)'e': { var items = PopToMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek())[Key(k)] = v; break; } // SETITEM
                case (byte)'u':                                                // SETITEMS
                {
                    var items = PopToMark();
                    if (items.Count % 2 != 0) throw Bad("SETITEMS with an odd number of items");
                    var dict = AsDict(Peek());
                    for (int i = 0; i < items.Count; i += 2) dict[Key(items[i])] = items[i + 1];
                    break;
                }
                case (byte)'R': { var args = Pop() as object?[] ?? throw Bad("REDUCE without an argument tuple"); Push(Reduce(Pop(), args)); break; }
                case (byte)'b': { var state = Pop(); Build(Peek(), state); break; } // BUILD
                default: throw Bad($"unsupported pickle opcode 0x{op:x2}");
            }
        }
    }

    object? Reduce(object? callable, object?[] args)
    {
        var name = (callable as Global)?.Name ?? throw Bad("REDUCE on something that is not a global");
        switch (name)
        {
            case "numpy.core.multiarray._reconstruct":
            case "numpy._core.multiarray._reconstruct":
                if (args.Length != 3 || args[0] is not Global { Name: "numpy.ndarray" }) throw Bad("_reconstruct expects (numpy.ndarray, shape, dtype)");
                return new PickledNdArray();
            case "numpy.dtype":
                if (args.Length < 1 || args[0] is not (string or byte[])) throw Bad("numpy.dtype expects a type string");
                return new DtypeObject { Kind = Text(args[0]) };
            case "_codecs.encode":
                if (args.Length != 2 || args[0] is not string s || Text(args[1]) is not ("latin1" or "latin-1"))
                    throw Bad("_codecs.encode expects (str, 'latin1')");
                return Encoding.Latin1.GetBytes(s);
            default:
                throw Bad($"global '{name}' is not allowed");
        }
    }

    void Build(object? target, object? state)
    {
        switch (target)
        {
            case DtypeObject:
                return; // byte order etc.: only single-byte and little-endian dtypes are accepted below
            case PickledNdArray array:
                // (version, shape, dtype, is_fortran, raw data)
                if (state is not object?[] { Length: 5 } s || s[1] is not object?[] shape || s[2] is not DtypeObject dtype || s[3] is not bool fortran)
                    throw Bad("ndarray state must be (version, shape, dtype, fortran, data)");
                array.Shape = shape.Select(d => d is long l ? l : throw Bad("ndarray shape must hold ints")).ToArray();
                array.Dtype = dtype.Kind;
                array.FortranOrder = fortran;
                array.Data = s[4] switch
                {
                    byte[] b => b,
                    string str => Encoding.Latin1.GetBytes(str),
                    _ => throw Bad("ndarray data must be bytes"),
                };
                return;
            default:
                throw Bad("BUILD on an unsupported object");
        }
    }

    static string Text(object? o) => o is byte[] b ? Encoding.Latin1.GetString(b) : o as string ?? "";
    string Key(object? k) => k is byte[] or string ? Text(k) : throw Bad("dict keys must be bytes or str");
    List<object?> AsList(object? o) => o as List<object?> ?? throw Bad("APPEND to something that is not a list");
    Dictionary<string, object?> AsDict(object? o) => o as Dictionary<string, object?> ?? throw Bad("SETITEM on something that is not a dict");
    object? Memo(long key) => _memo.TryGetValue(key, out var v) ? v : throw Bad($"memo key {key} was never stored");

    void Push(object? o) => _stack.Add(o);
    object? Peek() => _stack.Count > 0 && _stack[^1] != MarkObject ? _stack[^1] : throw Bad("stack underflow");
    object? Pop() { var v = Peek(); _stack.RemoveAt(_stack.Count - 1); return v; }

    List<object?> PopToMark()
    {
        var mark = _stack.LastIndexOf(MarkObject);
        if (mark < 0) throw Bad("no MARK on the stack");
        var items = _stack.GetRange(mark + 1, _stack.Count - mark - 1);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    byte ReadByte() => _pos < _data.Length ? _data[_pos++] : throw Bad("unexpected end of file (truncated?)");

    ReadOnlySpan<byte> ReadBytes(int n)
    {
        if (n < 0 || _pos + (long)n > _data.Length) throw Bad($"unexpected end of file reading {n} bytes (truncated?)");
        var span = _data.AsSpan(_pos, n);
        _pos += n;
        return span;
    }

    int ReadLength4()
    {
        var n = BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4));
        return n >= 0 ? n : throw Bad($"negative length {n}");
    }

    long ReadLong1()
    {
        var n = ReadByte();
        if (n > 8) throw Bad($"integer of {n} bytes is too large");
        var bytes = ReadBytes(n);
        long value = 0;
        for (int i = n - 1; i >= 0; i--) value = (value << 8) | bytes[i];
        if (n > 0 && n < 8 && (bytes[n - 1] & 0x80) != 0) value -= 1L << (8 * n); // two's complement sign
        return value;
    }

    string ReadLine()
    {
        var end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Bad("unterminated GLOBAL name");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }
}
