using System.CommandLine;
using System.Text.Json;
using NASiam.Core.Data;
using NASiam.Core.Data.Cifar;
using NASiam.Core.Options;

namespace NASiam.Cli.Commands;

/// <summary>
/// <c>nasiam datasets check --dataset NAME [--data DIR] [--sample N]</c>: one line of JSON summarising a
/// data set. For an image folder it also decodes every image of both splits (or N per class and
/// split) and reports the files it ignored (counted by reason, with the notices) and every image
/// that did not decode; it exits <see cref="ExitCodes.BadInput"/> when a split is unusable (the
/// folder cannot be opened, or an image is truncated or corrupt), naming the files on stderr.
/// </summary>
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
        var sample = new Option<int>("--sample") { HelpName = "N", Description = "Folder: decode only N images per class and split (evenly spaced) instead of all; for huge sets." };
        sample.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0) r.AddError("--sample must be 0 (all images) or positive."); });
        var check = new Command("check",
            "Open a data set and print one line of JSON: train and test counts, classes, image size and the measured " +
            "per-channel mean and std of the train split (on the [0,1] scale). An image folder is decoded in full " +
            "(or --sample N per class): the files it ignored and any truncated or corrupt image are reported, and a " +
            "corrupt image makes the exit code 2.")
        { dataset, data, coarse, imageSize, syntheticSize, seed, download, maxImages, sample };
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
            foreach (var notice in ds.Notices) context.Stderr.WriteLine($"notice: {notice}");
            var notices = ds.Notices.ToList();
            ImageFolderCheckReport? report = null;
            if (ds is ImageFolderDataSet folderSet)
            {
                report = ImageFolderCheck.Run(folderSet, p.GetValue(sample), context.CancellationToken);
                foreach (var bad in report.Unreadable) context.Stderr.WriteLine($"unreadable: {bad.Error}");
                // Batches are data.imageSize px whatever the files are: far larger blows every image up (224 px from 40 px files).
                if (report.MaxSide > 0 && folderSet.ImageSize > 2 * report.MaxSide)
                {
                    notices.Add($"the images' shorter side is {report.MinSide}-{report.MaxSide} px, and batches are {folderSet.ImageSize} px (data.imageSize, --image-size): " +
                                $"every image is enlarged at least {folderSet.ImageSize / (double)report.MaxSide:0.#}x; an image size near the images' own (e.g. {Math.Max(32, report.MaxSide / 32 * 32)}) trains on what they hold");
                    context.Stderr.WriteLine($"notice: {notices[^1]}");
                }
            }
            else if (p.GetValue(sample) > 0) throw new CliException("--sample applies only to image folders (--dataset folder).");
            var stats = report is { Ok: false } ? null : DataSetStatistics.Measure(ds, p.GetValue(maxImages));
            context.Stdout.WriteLine(JsonSerializer.Serialize(new
            {
                dataset = ds.Name,
                train = ds.TrainCount,
                test = ds.TestCount,
                classes = ds.ClassCount,
                imageSize = ds.ImageSize, // the side of a batch's images (an image folder's: data.imageSize), not the files'
                sourceShorterSide = report is { MaxSide: > 0 } ? new { min = report.MinSide, max = report.MaxSide } : null,
                mean = stats?.Mean.Select(v => Math.Round(v, 5)).ToArray(),
                std = stats?.Std.Select(v => Math.Round(v, 5)).ToArray(),
                @checked = report is null ? null : new { train = report.TrainChecked, test = report.TestChecked },
                decoded = report is null ? null : new { train = report.TrainDecoded, test = report.TestDecoded },
                skipped = (ds as ImageFolderDataSet)?.Skipped.GroupBy(f => f.Reason).ToDictionary(g => g.Key, g => g.Count()),
                notices,
                unreadable = report?.Unreadable.Select(u => new { path = u.Path, error = u.Error }).ToArray(),
            }, JsonOptions));
            if (report is { Ok: false })
            {
                context.Stderr.WriteLine($"nasiam datasets check: {report.Unreadable.Count} image(s) could not be decoded; a run would stop at the first of them. Replace or delete them.");
                return ExitCodes.BadInput;
            }
            return ExitCodes.Ok;
        });
        return new Command("datasets", "Check a data set and print its summary.") { check };
    }

    static readonly JsonSerializerOptions JsonOptions = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };
}
