using NASiam.Core.Engine.Checkpoints;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine.Checkpoints;

public sealed class PyTorchExportTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("nasiam-export-").FullName;
    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void SaveStateDict_WritesAPyTorchZipThatLoadsBackWithTheSameValues()
    {
        manual_seed(3);
        var source = nn.Sequential(("fc", nn.Linear(4, 3)), ("bn", nn.BatchNorm1d(3)));
        source.train();
        source.forward(randn(8, 4)); // move the BN running stats off their defaults
        var path = Path.Combine(_dir, "m.pt");
        PyTorchExport.SaveStateDict(path, source.state_dict());

        using (var zip = System.IO.Compression.ZipFile.OpenRead(path))
            Assert.Contains(zip.Entries, e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal));
        manual_seed(4);
        var target = nn.Sequential(("fc", nn.Linear(4, 3)), ("bn", nn.BatchNorm1d(3)));
        target.load_py(path);
        foreach (var (key, value) in source.state_dict())
            Assert.True(value.to(float64).allclose(target.state_dict()[key].to(float64)), key);
        Assert.Equal(["m.pt"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void SaveStateDict_Throws_WhenAKeyRepeats()
    {
        var t = zeros(2);
        Assert.Throws<ArgumentException>(() => PyTorchExport.SaveStateDict(Path.Combine(_dir, "d.pt"),
            [KeyValuePair.Create("a", t), KeyValuePair.Create("a", t)]));
        Assert.Empty(Directory.GetFiles(_dir));
    }
}
