// .NET startup hook (DOTNET_STARTUP_HOOKS=<path of NASiam.Core.dll>): the way the kernel self-check
// turns a host whose Main does not call KernelProbe.TryRunAsChild (a test host, a third-party
// app) into a probe child. It does nothing unless NASIAM_KERNEL_PROBE_SPEC is set. The runtime
// requires this exact name, in the global namespace.
internal static class StartupHook
{
    public static void Initialize() => NASiam.Core.Engine.Numerics.KernelProbe.RunFromStartupHook();
}
