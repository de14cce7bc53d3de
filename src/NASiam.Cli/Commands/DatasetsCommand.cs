using System.CommandLine;
using System.Text.Json;
using NASiam.Core.Data;
using NASiam.Core.Data.Cifar;
using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary><c>nasiam datasets check --dataset NAME [--data DIR]</c>: one-line JSON summary of a data set.</summary>
public static class DatasetsCommand
{
    /// <summary>The datasets verb and its check sub-command.</summary>
    public static Command Create(CliContext context)
    {
        var dataset = new Option<string>("--dataset") { HelpName = string.Join("|", RunOptionsValidator.Datasets), Description = "The data set.", Required = true };
        var data = new Option<string>("--data", "--data-path") { HelpName = "DIR", Description = "Its folder (CIFAR root or image folder); not needed for synthetic." };
        var coarse = new Option<bool>("--coarse", "--coarse-labels") { Description = "CIFAR-100: the 20 coarse labels." };
        var imageSize = new Option<int?>("--image-size") { HelpName = "N", Description = "Resize images to N x N (folder)." };
        var syntheticSize = new Option<int>("--synthetic-size", "--synthetic-train-size") { HelpName = "N", Description = "Synthetic train images (default 5000).", DefaultValueFactory = _ => 5000 };
        var seed = new Option<int>("--seed") { HelpName = "N", Description = "Synthetic set seed (default 0)." };
        var download = new Option<bool>("--download") { Description = "Fetch the official CIFAR python archive into --data when it is missing (MD5-checked, extracted atomically)." };
        var maxImages = new Option<long>("--max-images") { HelpName = "N", Description = "Measure mean/std over at most N images (default 10000).", DefaultValueFactory = _ => 10_000 };
        var check = new Command("check",
            "Open a data set and print one line of JSON: train and test counts, classes, image size and the measured " +
            "per-channel mean and std of the train split (on the [0,1] scale).")
        { dataset, data, coarse, imageSize, syntheticSize, seed, download, maxImages };
        check.SetAction(p =>
        {
            var name = p.GetValue(dataset)!;
            var folder = p.GetValue(data);
            var options = new DataSetOpenOptions
            {
                CoarseLabels = p.GetValue(coarse),
                ImageSize = p.GetValue(imageSize),
                SyntheticTrainSize = p.GetValue(syntheticSize),
                SyntheticSeed = p.GetValue(seed),
            };
            if (p.GetValue(download))
            {
                if (name is not ("cifar10" or "cifar100")) throw new CliException("--download works only for cifar10 and cifar100.");
                if (folder is null) throw new CliException("--download needs --data DIR to download into.");
                var archive = name == "cifar10" ? CifarArchive.Cifar10 : CifarArchive.Cifar100;
                try { CifarDataSet.Locate(folder, name == "cifar100"); }
                catch (DirectoryNotFoundException) { CifarDownloader.EnsureAsync(archive, folder, null, context.CancellationToken).GetAwaiter().GetResult(); }
            }
            using var ds = DataSets.Open(name, folder, options);
            var stats = DataSetStatistics.Measure(ds, p.GetValue(maxImages));
            context.Stdout.WriteLine(JsonSerializer.Serialize(new
            {
                dataset = ds.Name,
                train = ds.TrainCount,
                test = ds.TestCount,
                classes = ds.ClassCount,
                imageSize = ds.ImageSize,
                mean = stats.Mean.Select(v => Math.Round(v, 5)).ToArray(),
                std = stats.Std.Select(v => Math.Round(v, 5)).ToArray(),
            }));
            return ExitCodes.Ok;
        });
        return new Command("datasets", "Check a data set and print its summary.") { check };
    }
}
