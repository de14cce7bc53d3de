using NASiam.Core.Backbones;
using NASiam.Core.Genotypes;
using NASiam.Core.Options;
using NASiam.Core.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Methods;

/// <summary>
/// Builds the NASiam models (method doc 2.7, 4) on the CPU; the caller moves them with .to(device).
/// Seed torch before calling for reproducible weights.
/// </summary>
public static class ModelFactory
{
    /// <summary>Builds a model from <paramref name="spec"/>; bad specs throw <see cref="ArgumentException"/> naming the field.</summary>
    public static SiameseModel Create(ModelSpec spec)
    {
        Validate(spec);
        var ops = new OperationSet(spec.Framework, spec.Compat.MocoReferenceBatchNorm);
        var heads = spec.Heads;
        var (defaultEncoder, defaultPredictor) = GenotypeRules.DefaultLayers(spec.Framework);
        int encoderLayers = heads.EncoderLayers ?? defaultEncoder ?? 0;
        int predictorLayers = heads.PredictorLayers ?? defaultPredictor ?? 0;
        ResNet NewBackbone() => BackboneFactory.Create(spec.Backbone, spec.CifarStem, ZeroInitResidual(spec));
        var backbone = NewBackbone();
        int d = backbone.FeatureDim;
        var genotype = spec.Genotype;

        switch (spec.Framework)
        {
            case Framework.SimSiam:
            {
                nn.Module<Tensor, Tensor> projector, predictor;
                if (spec.Search)
                {
                    projector = new SearchCell(ops, d, encoderLayers);
                    predictor = new SearchCell(ops, heads.Dim, predictorLayers, heads.PredDim, heads.Dim);
                }
                else if (genotype is not null)
                {
                    projector = new Cell(ops, d, genotype.Encoder!);
                    predictor = new Cell(ops, heads.Dim, genotype.Predictor!, heads.PredDim, heads.Dim);
                }
                else
                {
                    projector = Baselines.SimSiamProjector(d);
                    predictor = Baselines.SimSiamPredictor(heads.Dim, heads.PredDim);
                }
                return new SimSiamModel(backbone, spec.Search, projector, predictor, heads.Dim);
            }
            case Framework.MoCo:
            {
                // Key-side projector (method doc 4.2): the search cell is shared live, as the
                // reference's search model; the derived cell gets a momentum copy (D2 fixed) unless
                // Compat.MocoFrozenSharedCell asks for the reference's frozen shared cell.
                nn.Module<Tensor, Tensor> projectorQ, projectorK;
                bool freeze = false;
                if (spec.Search)
                {
                    var cell = new SearchCell(ops, d, encoderLayers);
                    projectorQ = cell;
                    projectorK = spec.Compat.MocoMomentumKeyCellInSearch
                        ? new SearchCell(ops, d, encoderLayers, shareAlphasWith: cell)
                        : cell;
                }
                else if (genotype is not null)
                {
                    projectorQ = new Cell(ops, d, genotype.Encoder!);
                    freeze = spec.Compat.MocoFrozenSharedCell;
                    projectorK = freeze ? projectorQ : new Cell(ops, d, genotype.Encoder!);
                }
                else
                {
                    projectorQ = Baselines.MoCoProjector(d);
                    projectorK = Baselines.MoCoProjector(d);
                }
                return new MoCoModel(backbone, NewBackbone(), spec.Search, projectorQ, projectorK, heads.Dim,
                    heads.QueueSize, spec.MocoMomentum, heads.Temperature, spec.Compat.MocoQueueOnArchStep, freeze);
            }
            case Framework.SimClr:
            {
                nn.Module<Tensor, Tensor> head = spec.Search
                    ? new SearchCell(ops, d, predictorLayers, heads.PredDim, heads.Dim)
                    : genotype is not null
                        ? new Cell(ops, d, genotype.Predictor!, heads.PredDim, heads.Dim)
                        : Baselines.SimClrHead(d, heads.PredDim, heads.Dim);
                return new SimClrModel(backbone, spec.Search, head, heads.Dim, heads.Temperature);
            }
            default:
                throw new ArgumentException($"Unknown framework {spec.Framework}.");
        }
    }

    /// <summary>
    /// zero_init_residual as the reference: SimSiam always; MoCo only on the converted CIFAR trunk
    /// (convert_cifar's default; torchvision's R50 default is off); SimCLR never.
    /// </summary>
    public static bool ZeroInitResidual(ModelSpec spec) => spec.Framework switch
    {
        Framework.SimSiam => true,
        Framework.MoCo => spec.CifarStem,
        _ => false,
    };

    static void Validate(ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec.Heads, nameof(spec.Heads));
        ArgumentNullException.ThrowIfNull(spec.Compat, nameof(spec.Compat));
        BackboneFactory.Config(spec.Backbone);
        var h = spec.Heads;
        if (h.Dim < 1) throw new ArgumentException($"heads.dim must be positive, got {h.Dim}.");
        if (h.PredDim < 1) throw new ArgumentException($"heads.predDim must be positive, got {h.PredDim}.");
        if (h.EncoderLayers is < 1) throw new ArgumentException($"heads.encoderLayers must be at least 1, got {h.EncoderLayers}.");
        if (h.PredictorLayers is < 1) throw new ArgumentException($"heads.predictorLayers must be at least 1, got {h.PredictorLayers}.");
        if (spec.Search && spec.Genotype is not null)
            throw new ArgumentException("A search model takes no genotype: its cells are searched (set Genotype to null).");
        if (spec.Genotype is { } g)
        {
            try { GenotypeRules.ValidateFields(g, spec.Framework); }
            catch (GenotypeFormatException e) { throw new ArgumentException($"Genotype: {e.Message}", e); }
        }
    }
}
