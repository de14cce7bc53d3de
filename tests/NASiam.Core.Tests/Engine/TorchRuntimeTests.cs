using NASiam.Core.Engine;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Engine;

public class TorchRuntimeTests
{
    [Fact]
    public void Torch_LoadsAndComputes_InTestHost()
    {
        TorchRuntime.Initialise();
        using var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, b.data<float>().ToArray());
        Assert.StartsWith("2.", torch.__version__);
    }

    [Fact]
    public void SetThreads_AppliesTheRequestedCount()
    {
        var before = get_num_threads();
        try
        {
            Assert.Equal(1, TorchRuntime.SetThreads(1));
            Assert.Equal(1, get_num_threads());
        }
        finally { set_num_threads(before); }
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("auto")]
    public void ResolveDevice_GivesCpu_WhenNoCuda(string request)
    {
        Assert.False(cuda.is_available());
        Assert.Equal(DeviceType.CPU, TorchRuntime.ResolveDevice(request).type);
    }

    [Fact]
    public void ResolveDevice_RefusesCuda_WhenUnavailable()
    {
        var e = Assert.Throws<ArgumentException>(() => TorchRuntime.ResolveDevice("cuda:0"));
        Assert.Contains("CUDA is not available", e.Message);
        Assert.Throws<ArgumentException>(() => TorchRuntime.ResolveDevice("tpu"));
    }
}
