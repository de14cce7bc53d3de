using System.Text;

namespace NASiam.Core.Tests.Data;

/// <summary>Writes tiny CIFAR files in both layouts; pixels and labels are a function of the record index.</summary>
static class CifarTestFiles
{
    public static byte[] Pixels(int record) => Enumerable.Range(0, 3072).Select(i => (byte)((i * 7 + record * 31) % 256)).ToArray();
    public static int Label(int record, int classes) => (record * 3 + 1) % classes;

    public static void WriteBinary(string file, int first, int count, bool cifar100)
    {
        using var s = File.Create(file);
        for (int r = first; r < first + count; r++)
        {
            if (cifar100) { s.WriteByte((byte)Label(r, 20)); s.WriteByte((byte)Label(r, 100)); }
            else s.WriteByte((byte)Label(r, 10));
            s.Write(Pixels(r));
        }
    }

    /// <summary>A protocol-2 pickle as Python 2's cPickle writes it (bytes keys, BINSTRING data, memo puts).</summary>
    public static byte[] Pickle(int first, int count, bool cifar100)
    {
        var o = new MemoryStream();
        void Op(char c) => o.WriteByte((byte)c);
        void ShortString(string s) { Op('U'); o.WriteByte((byte)s.Length); o.Write(Encoding.ASCII.GetBytes(s)); }
        void Int(int v) { if (v < 256) { Op('K'); o.WriteByte((byte)v); } else { Op('J'); o.Write(BitConverter.GetBytes(v)); } }
        void IntList(Func<int, int> value) { Op(']'); Op('('); for (int r = first; r < first + count; r++) Int(value(r)); Op('e'); }
        byte memo = 0;
        void Put() { Op('q'); o.WriteByte(memo++); }
        o.WriteByte(0x80); o.WriteByte(2);
        Op('}'); Put(); Op('(');
        ShortString("data");
        o.Write(Encoding.ASCII.GetBytes("cnumpy.core.multiarray\n_reconstruct\n")); Put();
        o.Write(Encoding.ASCII.GetBytes("cnumpy\nndarray\n")); Put();
        Int(0); o.WriteByte(0x85); ShortString("b"); o.WriteByte(0x87); Op('R'); Put();
        Op('('); Int(1); Int(count); Int(3072); o.WriteByte(0x86);
        o.Write(Encoding.ASCII.GetBytes("cnumpy\ndtype\n")); Put();
        ShortString("u1"); Int(0); Int(1); o.WriteByte(0x87); Op('R'); Put();
        Op('('); Int(3); ShortString("|"); Op('N'); Op('N'); Op('N'); Op('J'); o.Write(BitConverter.GetBytes(-1)); Op('J'); o.Write(BitConverter.GetBytes(-1)); Int(0); Op('t'); Op('b');
        o.WriteByte(0x89);
        Op('T'); o.Write(BitConverter.GetBytes(count * 3072));
        for (int r = first; r < first + count; r++) o.Write(Pixels(r));
        Op('t'); Op('b');
        if (cifar100)
        {
            ShortString("fine_labels"); IntList(r => Label(r, 100));
            ShortString("coarse_labels"); IntList(r => Label(r, 20));
        }
        else { ShortString("labels"); IntList(r => Label(r, 10)); }
        ShortString("batch_label"); ShortString("testing batch 1 of 1");
        Op('u'); Op('.');
        return o.ToArray();
    }

    /// <summary>Writes a whole set in <paramref name="layout"/> under root; train has 5·perFile (CIFAR-10) records.</summary>
    public static string WriteSet(string root, bool cifar100, bool python, int perFile = 3)
    {
        var folder = Path.Combine(root, (cifar100, python) switch
        {
            (false, false) => "cifar-10-batches-bin",
            (false, true) => "cifar-10-batches-py",
            (true, false) => "cifar-100-binary",
            _ => "cifar-100-python",
        });
        Directory.CreateDirectory(folder);
        void Write(string name, int first, int count)
        {
            if (python) File.WriteAllBytes(Path.Combine(folder, name), Pickle(first, count, cifar100));
            else WriteBinary(Path.Combine(folder, name + ".bin"), first, count, cifar100);
        }
        if (cifar100) { Write("train", 0, 5 * perFile); Write("test", 1000, perFile); }
        else
        {
            for (int i = 0; i < 5; i++) Write($"data_batch_{i + 1}", i * perFile, perFile);
            Write("test_batch", 1000, perFile);
        }
        return folder;
    }
}

/// <summary>A temporary folder deleted on dispose.</summary>
sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("nasiam-data-test-").FullName;
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
