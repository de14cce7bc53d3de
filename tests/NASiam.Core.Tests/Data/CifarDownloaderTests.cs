using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using NASiam.Core.Data;
using NASiam.Core.Data.Cifar;

namespace NASiam.Core.Tests.Data;

public class CifarDownloaderTests
{
    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>A tar.gz of a tiny cifar-10-batches-py folder made with the test writers.</summary>
    static byte[] MakeArchive()
    {
        using var src = new TempDir();
        CifarTestFiles.WriteSet(src.Path, cifar100: false, python: true, perFile: 2);
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
            TarFile.CreateFromDirectory(src.Path, gz, includeBaseDirectory: false);
        return ms.ToArray();
    }

    /// <summary>Serves <paramref name="body"/> once per request on 127.0.0.1 until disposed.</summary>
    sealed class LoopbackServer : IDisposable
    {
        readonly HttpListener _listener = new();
        public Uri Url { get; }
        public LoopbackServer(byte[] body)
        {
            var port = FreePort();
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            Url = new Uri($"http://127.0.0.1:{port}/cifar-10-python.tar.gz");
            _ = Task.Run(async () =>
            {
                while (_listener.IsListening)
                {
                    HttpListenerContext ctx;
                    try { ctx = await _listener.GetContextAsync(); } catch (Exception) { return; }
                    ctx.Response.ContentLength64 = body.Length;
                    await ctx.Response.OutputStream.WriteAsync(body);
                    ctx.Response.Close();
                }
            });
        }
        public void Dispose() => _listener.Close();
    }

    [Fact]
    public async Task EnsureAsync_ExtractsAGoodArchive_ThatThenOpens()
    {
        var archive = MakeArchive();
        using var server = new LoopbackServer(archive);
        using var root = new TempDir();
        var spec = new CifarArchive(server.Url, Convert.ToHexStringLower(MD5.HashData(archive)), "cifar-10-batches-py");
        var folder = await CifarDownloader.EnsureAsync(spec, root.Path);
        Assert.Equal(Path.Combine(root.Path, "cifar-10-batches-py"), folder);
        using var ds = DataSets.Open("cifar10", root.Path);
        Assert.Equal(10, ds.TrainCount);
        Assert.Equal(["cifar-10-batches-py"], Directory.GetFileSystemEntries(root.Path).Select(Path.GetFileName));
    }

    [Fact]
    public async Task EnsureAsync_RejectsAChecksumMismatch_AndLeavesNothing()
    {
        using var server = new LoopbackServer(MakeArchive());
        using var root = new TempDir();
        var spec = new CifarArchive(server.Url, new string('0', 32), "cifar-10-batches-py");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => CifarDownloader.EnsureAsync(spec, root.Path));
        Assert.Contains("expected 00000000", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(root.Path));
    }

    [Fact]
    public async Task EnsureAsync_ExplainsBeingOffline()
    {
        using var root = new TempDir();
        var spec = new CifarArchive(new Uri($"http://127.0.0.1:{FreePort()}/x.tar.gz"), new string('0', 32), "cifar-10-batches-py");
        var e = await Assert.ThrowsAsync<IOException>(() => CifarDownloader.EnsureAsync(spec, root.Path));
        Assert.Contains("Could not download", e.Message);
        Assert.Contains("offline", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(root.Path));
    }
}
