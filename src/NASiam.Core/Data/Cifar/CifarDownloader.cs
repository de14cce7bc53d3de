using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace NASiam.Core.Data.Cifar;

/// <summary>An archive to download: URL, MD5 of the file, and the folder it extracts to.</summary>
public sealed record CifarArchive(Uri Url, string Md5, string FolderName)
{
    /// <summary>Official CIFAR-10 python archive (torchvision's checksum).</summary>
    public static CifarArchive Cifar10 { get; } = new(new Uri("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
        "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py");
    /// <summary>Official CIFAR-100 python archive (torchvision's checksum).</summary>
    public static CifarArchive Cifar100 { get; } = new(new Uri("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"),
        "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python");
}

/// <summary>
/// Downloads and extracts a CIFAR archive into a root folder: the download goes to a temporary
/// file and is MD5-checked; extraction goes to a temporary folder that is renamed into place only
/// when complete, so an interrupted run never leaves a half-extracted data set.
/// </summary>
public static class CifarDownloader
{
    /// <summary>
    /// Ensures root/&lt;FolderName&gt; exists, downloading when missing. Returns its path. Throws
    /// <see cref="IOException"/> when offline and <see cref="InvalidDataException"/> on a checksum mismatch
    /// or an archive without the expected folder.
    /// </summary>
    public static async Task<string> EnsureAsync(CifarArchive archive, string root, HttpClient? client = null, CancellationToken cancellationToken = default)
    {
        var target = Path.Combine(root, archive.FolderName);
        if (Directory.Exists(target)) return target;
        Directory.CreateDirectory(root);
        var tempFile = Path.Combine(root, $".download-{Guid.NewGuid():N}.tar.gz");
        var tempDir = Path.Combine(root, $".extract-{Guid.NewGuid():N}");
        var ownClient = client is null;
        client ??= new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
        try
        {
            string actual;
            try
            {
                using var response = await client.GetAsync(archive.Url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                response.EnsureSuccessStatusCode();
                await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
                await using (var file = File.Create(tempFile)) await body.CopyToAsync(file, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                throw new IOException($"Could not download {archive.Url} ({e.Message}). If this host is offline, download it elsewhere and extract it so that '{target}' exists.", e);
            }
            await using (var file = File.OpenRead(tempFile)) actual = Convert.ToHexStringLower(await MD5.HashDataAsync(file, cancellationToken));
            if (!string.Equals(actual, archive.Md5, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"Download of {archive.Url} has MD5 {actual}; expected {archive.Md5}. The file is corrupt or not the official archive; nothing was extracted.");
            Directory.CreateDirectory(tempDir);
            await using (var file = File.OpenRead(tempFile))
            await using (var gz = new GZipStream(file, CompressionMode.Decompress))
                await TarFile.ExtractToDirectoryAsync(gz, tempDir, overwriteFiles: false, cancellationToken);
            var extracted = Path.Combine(tempDir, archive.FolderName);
            if (!Directory.Exists(extracted))
                throw new InvalidDataException($"Archive {archive.Url} does not contain the folder '{archive.FolderName}/'.");
            Directory.Move(extracted, target);
            return target;
        }
        finally
        {
            if (ownClient) client.Dispose();
            if (File.Exists(tempFile)) File.Delete(tempFile);
            if (Directory.Exists(tempDir)) Directory.Delete(tempDir, true);
        }
    }
}
