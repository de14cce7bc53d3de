using System.Text.Json;
using NASiam.Core.Data;
using NASiam.Core.Data.Cifar;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam datasets check --dataset NAME [--data DIR]</c>: one-line JSON summary of a data set.</summary>
public sealed class DatasetsCommand : ICliCommand
{
    public string Name => "datasets";
    public string Summary => "check a data set and print its summary";
    public string Help => """
        Usage:
          nasiam datasets check --dataset synthetic|cifar10|cifar100|folder [--data DIR]
              [--coarse] [--image-size N] [--synthetic-size N] [--seed N] [--download]
              [--max-images N]
          Opens the data set and prints one line of JSON: train and test counts, classes, image
          size and the measured per-channel mean and std of the train split (on the [0,1] scale,
          over at most --max-images images, default 10000).
          --download fetches the official CIFAR python archive into DIR when it is missing
          (MD5-checked, extracted atomically).
        """;

    public int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var a = new CliArgs(args, new HashSet<string> { "coarse", "download" });
        if (a.Positionals.Count != 1 || a.Positionals[0] != "check")
            throw new CliException("usage: nasiam datasets check --dataset NAME [--data DIR] (see --help).");
        var name = a.String("dataset") ?? throw new CliException("--dataset is required: synthetic, cifar10, cifar100 or folder.");
        var data = a.String("data");
        var options = new DataSetOpenOptions
        {
            CoarseLabels = a.Flag("coarse"),
            ImageSize = a.Int("image-size"),
            SyntheticTrainSize = a.Int("synthetic-size") ?? 5000,
            SyntheticSeed = a.Int("seed") ?? 0,
        };
        var download = a.Flag("download");
        var maxImages = a.Long("max-images") ?? 10_000;
        a.EnsureAllUsed();
        if (download)
        {
            if (name is not ("cifar10" or "cifar100")) throw new CliException("--download works only for cifar10 and cifar100.");
            if (data is null) throw new CliException("--download needs --data DIR to download into.");
            var archive = name == "cifar10" ? CifarArchive.Cifar10 : CifarArchive.Cifar100;
            try { CifarDataSet.Locate(data, name == "cifar100"); }
            catch (DirectoryNotFoundException) { CifarDownloader.EnsureAsync(archive, data, null, cancellationToken).GetAwaiter().GetResult(); }
        }
        using var ds = DataSets.Open(name, data, options);
        var stats = DataSetStatistics.Measure(ds, maxImages);
        var summary = new
        {
            dataset = ds.Name,
            train = ds.TrainCount,
            test = ds.TestCount,
            classes = ds.ClassCount,
            imageSize = ds.ImageSize,
            mean = stats.Mean.Select(v => Math.Round(v, 5)).ToArray(),
            std = stats.Std.Select(v => Math.Round(v, 5)).ToArray(),
        };
        stdout.WriteLine(JsonSerializer.Serialize(summary));
        return ExitCodes.Ok;
    }
}
