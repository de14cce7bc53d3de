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
    public void Startup_InvalidSetting_FailsWithClearMessage(string key, string value, string expected)
    {
        using var app = new NasiamAppFactory(_data, new ScriptedRunEngine()).WithWebHostBuilder(b => b.UseSetting(key, value));
        var ex = Assert.Throws<OptionsValidationException>(() => app.Server);
        Assert.Contains(expected, ex.Message);
    }

    public void Dispose()
    {
        try { Directory.Delete(_data, true); } catch (IOException) { }
    }
}
