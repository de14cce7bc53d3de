using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Options;
using NASiam.Web.Tests.Fakes;

namespace NASiam.Web.Tests.Options;

public class NasiamWebOptionsTests : IDisposable
{
    readonly string _data = Directory.CreateTempSubdirectory("nasiam-opt-").FullName;

    [Theory]
    [InlineData("Nasiam:Storage", "mongodb", "Nasiam:Storage 'mongodb' is not one of")]
    [InlineData("Nasiam:Devices:0", "tpu", "Nasiam:Devices entry 'tpu'")]
    [InlineData("Nasiam:AccessKey", "short", "at least 8 characters")]
    [InlineData("Nasiam:Role", "gpu", "Nasiam:Role 'gpu' is not one of all, web, worker")]
    [InlineData("Nasiam:Role", "web", "Nasiam:Role 'web' needs Nasiam:Storage=postgresql")]
    [InlineData("Nasiam:LeaseHeartbeatSeconds", "20", "must be at most half of Nasiam:LeaseSeconds")]
    [InlineData("Nasiam:CpuThreads", "-1", "Nasiam:CpuThreads must be between 0 (automatic: cores - 1) and 256")]
    // A value the binder cannot convert was an InvalidOperationException with a stack trace (exit 134).
    [InlineData("Nasiam:LeaseSeconds", "abc", "Nasiam:LeaseSeconds 'abc' is not a number (e.g. 30 or 0.5): Nasiam:LeaseSeconds must be between 1 and 3600.")]
    [InlineData("Nasiam:ResumeInterruptedRuns", "maybe", "Nasiam:ResumeInterruptedRuns 'maybe' is not true or false.")]
    [InlineData("Nasiam:CpuThreads", "two", "Nasiam:CpuThreads 'two' is not a whole number")]
    // A node that executes runs refuses a device it does not have (this host has no CUDA); it started and failed every cuda run.
    [InlineData("Nasiam:Devices:0", "cuda:0", "Nasiam:Devices entry 'cuda:0': CUDA is not available on this host")]
    [InlineData("Nasiam:Devices:0", "cuda", "Nasiam:Devices entry 'cuda': CUDA is not available on this host")]
    public void Startup_InvalidSetting_FailsWithClearMessage(string key, string value, string expected)
    {
        using var app = new NasiamAppFactory(_data, new ScriptedRunEngine()).WithWebHostBuilder(b => b.UseSetting(key, value));
        var ex = Assert.Throws<OptionsValidationException>(() => app.Server);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Startup_CpuDevice_Starts()
    {
        using var app = new NasiamAppFactory(_data, new ScriptedRunEngine()).WithWebHostBuilder(b => b.UseSetting("Nasiam:Devices:0", "cpu"));
        Assert.NotNull(app.Server);
    }

    [Theory]
    [InlineData(0, "cuda:0", "CUDA is not available on this host")]
    [InlineData(2, "cuda:2", "this host has 2 CUDA device(s) (cuda:0 to cuda:1)")]
    [InlineData(2, "cuda:1", null)]
    [InlineData(0, "cpu", null)]
    public void DeviceAvailability_RefusesDevicesTheHostLacks(int cudaDevices, string device, string? expected)
    {
        var result = new NASiam.Web.Options.DeviceAvailability(() => cudaDevices)
            .Validate(null, new NASiam.Web.Options.NasiamWebOptions { Devices = [device] });
        if (expected is null) Assert.False(result.Failed);
        else Assert.Contains(expected, Assert.Single(result.Failures!));
    }

    [Fact]
    public void DeviceAvailability_AWebNode_IsNotChecked() => Assert.True(new NASiam.Web.Options.DeviceAvailability(() => 0)
        .Validate(null, new NASiam.Web.Options.NasiamWebOptions { Devices = ["cuda:0"], Role = "web", Storage = "postgresql" }).Skipped);

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}
