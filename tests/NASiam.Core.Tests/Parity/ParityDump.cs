using NASiam.Core.Engine;
using System.Text.Json;
using NASiam.Core.Backbones;
using NASiam.Core.Engine.Checkpoints;
using NASiam.Core.Engine.Runs;
using NASiam.Core.Methods;
using NASiam.Core.Search;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NASiam.Core.Tests.Parity;

/// <summary>
/// The C# half of a parity case: builds the model exactly as runs do (<see cref="ModelBuilder.Create"/>,
/// which also picks the CPU layout), runs one weight step's forward, loss and backward on seeded
/// inputs, and writes the files tools/parity/compare.py reads (its docstring lists them): the
/// reference-key export (<see cref="SiameseModel.ReferenceStateDict"/> through
/// <see cref="PyTorchExport"/>) taken before the step, the alphas, the inputs, and what the product
/// computed (outputs, loss, weight and alpha gradients, buffers after the step).
/// </summary>
public static class ParityDump
{
    /// <summary>
    /// Environment variable that overrides the layout <see cref="ModelBuilder.Create"/> chose:
    /// "channels-last" or "nchw" (to show what a wrong kernel does to the table). Unset: the product's choice.
    /// </summary>
    public const string LayoutVariable = "NASIAM_PARITY_LAYOUT";

    /// <summary>
    /// Writes case <paramref name="c"/> into <paramref name="dir"/> (created). Each stage prints
    /// "stage: ..." first, so a native crash can be located from the child's last output; results
    /// are written in two files so that a crash in backward still leaves the forward to compare.
    /// </summary>
    public static void Write(ParityCase c, string dir)
    {
        using var sc = new ScalarScope();
        Directory.CreateDirectory(dir);
        var o = c.Options;
        Stage("build (ModelBuilder.Create)");
        using var model = ModelBuilder.Create(o, c.Search, c.Genotype, CPU, c.CifarStem, o.Seed);
        var layout = Environment.GetEnvironmentVariable(LayoutVariable);
        if (layout == "channels-last") model.UseChannelsLast();
        else if (layout == "nchw") foreach (var trunk in model.modules().OfType<ResNet>()) trunk.UseNchw();
        else if (!string.IsNullOrEmpty(layout)) throw new ArgumentException($"{LayoutVariable} must be channels-last or nchw, got '{layout}'.");
        model.train();
        File.WriteAllText(Path.Combine(dir, "manifest.json"), JsonSerializer.Serialize(Manifest(c, model, layout), Indented));

        Stage("export");
        var gen = new Generator(1234);
        // Non-uniform mixing weights, so every op's share (and its alpha gradient) differs.
        foreach (var cell in model.SearchCells)
        {
            using var a = randn(cell.Cell.Layers, OperationNames.Count, generator: gen) * sc[0.5];
            cell.Cell.LoadAlphas(a);
        }
        PyTorchExport.SaveStateDict(Path.Combine(dir, "weights.pt"), model.ReferenceStateDict());
        if (c.Search)
            PyTorchExport.SaveStateDict(Path.Combine(dir, "alphas.pt"),
                model.SearchCells.Select(s => KeyValuePair.Create("alphas." + s.Name, (Tensor)s.Cell.Alphas)));
        using var x1 = randn(c.Batch, 3, c.ImageSize, c.ImageSize, generator: gen);
        using var x2 = randn(c.Batch, 3, c.ImageSize, c.ImageSize, generator: gen);
        PyTorchExport.SaveStateDict(Path.Combine(dir, "inputs.pt"), new Dictionary<string, Tensor> { ["x1"] = x1, ["x2"] = x2 });

        // TorchSharp's state_dict() holds the Parameter objects themselves: parameters are told
        // from buffers by type, and their gradients are at hand.
        var reference = model.ReferenceStateDict();
        var exported = reference.Values.OfType<Parameter>().Distinct().Count();
        if (exported != model.parameters().Count())
            throw new InvalidOperationException($"{c.Name}: the reference state dict holds {exported} distinct parameters, the model {model.parameters().Count()}.");

        using var scope = NewDisposeScope();
        var forward = new Dictionary<string, Tensor>();
        Stage("forward (features, embedding)");
        using (no_grad())
        {
            forward["feature"] = model.BackboneFeatures(x1);
            forward["embedding"] = model.Embedding(x1);
        }
        Stage("forward (loss)");
        var loss = model.ComputeLoss(x1, x2, StepKind.Weight);
        forward["loss"] = loss.detach().reshape(1);
        foreach (var (key, value) in reference)
            if (value is not Parameter) forward["buffer." + key] = value;
        PyTorchExport.SaveStateDict(Path.Combine(dir, "forward.pt"), forward);

        Stage("backward");
        loss.backward();
        var backward = new Dictionary<string, Tensor>();
        // One entry per parameter, under its first reference key (compare.py resolves the aliases).
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (key, value) in reference)
            if (value is Parameter { grad: { } g } p && seen.Add(p)) backward["grad." + key] = g;
        foreach (var cell in model.SearchCells)
            backward["alphagrad." + cell.Name] = cell.Cell.Alphas.grad
                ?? throw new InvalidOperationException($"{c.Name}: the {cell.Name} alphas got no gradient.");
        PyTorchExport.SaveStateDict(Path.Combine(dir, "backward.pt"), backward);
        Stage("done");
    }

    static void Stage(string what)
    {
        Console.Out.WriteLine("stage: " + what);
        Console.Out.Flush();
    }

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>What compare.py needs to build the reference model (keys documented in tools/parity/reference.py's build()).</summary>
    static Dictionary<string, object?> Manifest(ParityCase c, SiameseModel model, string? layoutOverride)
    {
        var o = c.Options;
        var genotype = c.Genotype;
        var trunks = model.modules().OfType<ResNet>().ToArray();
        var m = new Dictionary<string, object?>
        {
            ["name"] = c.Name,
            ["framework"] = o.Framework.ToName(),
            ["form"] = c.Form,
            ["backbone"] = o.Backbone,
            ["stem"] = c.CifarStem ? "cifar" : "imagenet",
            ["batch"] = c.Batch,
            ["image_size"] = c.ImageSize,
            ["dim"] = o.Heads.Dim,
            ["pred_dim"] = o.Heads.PredDim,
            ["layout"] = trunks.All(t => t.IsChannelsLast) ? "channels-last" : trunks.Any(t => t.IsChannelsLast) ? "mixed" : "nchw",
            ["layout_forced"] = !string.IsNullOrEmpty(layoutOverride),
            ["known_divergences"] = (c.Known ?? []).Select(k => new Dictionary<string, string> { ["pattern"] = k.Pattern, ["reason"] = k.Reason }).ToArray(),
        };
        foreach (var cell in model.SearchCells)
            m[cell.Name == "encoder" ? "encoder_layers" : "predictor_layers"] = cell.Cell.Layers;
        if (genotype is not null)
            m["genotype"] = new Dictionary<string, object?> { ["encoder"] = genotype.Encoder, ["predictor"] = genotype.Predictor };
        switch (model)
        {
            case MoCoModel moco:
                m["queue_size"] = moco.QueueSize;
                m["momentum"] = moco.Momentum;
                m["temperature"] = moco.Temperature;
                m["moco_reference_bn"] = o.Compat.MocoReferenceBatchNorm;
                // D2 fixed in the product: the final cell trains on the query side. The reference freezes
                // the shared cell at init; compare.py un-freezes it to compare the gradient the product uses.
                m["train_final_cell"] = c.Form == "final";
                break;
            case SimClrModel simclr:
                m["temperature"] = simclr.Temperature;
                break;
        }
        return m;
    }
}
