using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace NASiam.Web.Tests;

static class TestEnvironment
{
    /// <summary>
    /// Every app host a test starts watches its appsettings files for changes; with inotify each
    /// watcher takes one of the user's 128 inotify instances (Linux default), and a suite that
    /// starts dozens of hosts (plus their run processes) ran out ("The configured user limit (128)
    /// on the number of inotify instances has been reached"). Polling watchers use none.
    /// </summary>
    [ModuleInitializer]
    internal static void UsePollingFileWatchers() => Environment.SetEnvironmentVariable("DOTNET_USE_POLLING_FILE_WATCHER", "true");

    /// <summary>A TCP port free on loopback now (the OS picks it; a server started right after binds it).</summary>
    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
