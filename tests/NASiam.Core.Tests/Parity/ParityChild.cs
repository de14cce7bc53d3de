using NASiam.Core.Engine;
using NASiam.Core.Tests.Parity;

/// <summary>
/// Child-process entry of the parity suite. The C# half of each case runs in its own process so a
/// native crash in libtorch (SIGFPE in ResNet-50's oneDNN kernels on some AVX-512 hosts, platform
/// notes 1.8) fails that case with its signal instead of killing the test host. The child is this
/// same test assembly started with <c>dotnet exec</c> and .NET's startup-hook mechanism
/// (<c>DOTNET_STARTUP_HOOKS</c> = this assembly; the runtime calls <c>StartupHook.Initialize</c>,
/// a type in the global namespace, before Main): it writes case <c>NASIAM_PARITY_CASE</c> into
/// <c>NASIAM_PARITY_OUT</c> and exits. Without those variables (every ordinary test run) it does nothing.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        NASiam.Core.Tests.Runtime.SystemLibtorchChild.RunIfAsked(); // the system-libtorch loader's child (Runtime/SystemLibtorchTests.cs)
        NASiam.Core.Tests.Engine.WaitPolicyChild.RunIfAsked(); // the OpenMP wait-policy child (Engine/CpuThreadGovernorTests.cs)
        var name = Environment.GetEnvironmentVariable(ParityProcess.CaseVariable);
        var dir = Environment.GetEnvironmentVariable(ParityProcess.OutVariable);
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(dir)) return;
        int rc;
        try
        {
            TorchRuntime.SetThreads(0);
            ParityDump.Write(ParityCases.Get(name), dir);
            rc = 0;
        }
        catch (Exception e)
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "error.txt"), $"{e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e);
            rc = 1;
        }
        Console.Out.Flush();
        Environment.Exit(rc);
    }
}
