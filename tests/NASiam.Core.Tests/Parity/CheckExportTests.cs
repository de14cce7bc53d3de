using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Parity;

/// <summary>
/// tools/parity/check_export.py strict-loads a quick-demo export (the engine's resnet-tiny trunk): it knew
/// only the reference's resnet18/resnet50 and failed with KeyError 'resnet-tiny', so the README's way of
/// checking an export did not work on the quick demo's models.
/// </summary>
public class CheckExportTests(ITestOutputHelper output)
{
    [PyTorchTheory]
    [InlineData("simsiam", "search")]
    [InlineData("simsiam", "final")]
    [InlineData("simsiam", "standard")]
    [InlineData("moco", "final")]
    [InlineData("simclr", "search")]
    public void CheckExport_StrictLoadsAQuickDemoExport(string framework, string form)
    {
        if (ParityProcess.TorchUnavailableReason is { } reason)
            Assert.Fail($"check_export.py needs python3-torch (.ci/run installs it): {reason}");
        var fw = FrameworkNames.Parse(framework);
        var options = RunPresets.Get(RunPresets.QuickDemo, fw);
        Assert.Equal("resnet-tiny", options.Backbone);
        var genotype = form == "final" ? GenotypePresets.All.First(p => p.Framework == fw && p.Genotype is not null).Genotype : null;
        var dir = Directory.CreateTempSubdirectory("nasiam-check-export-").FullName;
        try
        {
            var file = Path.Combine(dir, "model.pt");
            using (var model = ModelBuilder.Create(options, form == "search", genotype, CPU, ModelBuilder.CifarStem(options), options.Seed))
                PyTorchExport.SaveStateDict(file, model.ReferenceStateDict());
            List<string> args = [Path.Combine(ParityProcess.RepositoryRoot(), "tools", "parity", "check_export.py"), file,
                "--framework", framework, "--form", form, "--backbone", options.Backbone,
                "--dim", options.Heads.Dim.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--pred-dim", options.Heads.PredDim.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--queue-size", options.Heads.QueueSize.ToString(System.Globalization.CultureInfo.InvariantCulture)];
            if (genotype is not null) args.AddRange(["--genotype", GenotypeText.Write(genotype)]);
            var py = ParityProcess.Run(ParityProcess.Python(), args, new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "PASSIVE" }, TimeSpan.FromMinutes(3));
            output.WriteLine(py.Output);
            Assert.True(py.ExitCode == 0, $"check_export.py failed ({py.Describe()}):\n{py.Output}");
            Assert.Contains("load_state_dict(strict=True)", py.Output);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
