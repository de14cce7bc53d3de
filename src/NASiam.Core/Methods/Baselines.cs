using NASiam.Core.Search;
using TorchSharp;
using static TorchSharp.torch;

namespace NASiam.Core.Methods;

/// <summary>
/// The standard heads of the original papers (method doc 4), used when the fixed form has no
/// genotype. Layouts (and so state-dict indices) follow the reference's nn.Sequential heads.
/// </summary>
public static class Baselines
{
    /// <summary>SimSiam projector before fc: [Lin(nb) D→D, BN, ReLU] × 2. [N, D] → [N, D].</summary>
    public static nn.Module<Tensor, Tensor> SimSiamProjector(int d) => nn.Sequential(
        nn.Linear(d, d, hasBias: false), new ViewBatchNorm1d(d), nn.ReLU(),
        nn.Linear(d, d, hasBias: false), new ViewBatchNorm1d(d), nn.ReLU());

    /// <summary>SimSiam predictor: Lin(nb) dim→pred, BN, ReLU, Lin(b) pred→dim.</summary>
    public static nn.Module<Tensor, Tensor> SimSiamPredictor(int dim, int predDim) => nn.Sequential(
        nn.Linear(dim, predDim, hasBias: false), new ViewBatchNorm1d(predDim), nn.ReLU(), nn.Linear(predDim, dim));

    /// <summary>MoCo v2 projector before fc(→128): Lin(b) D→D, ReLU.</summary>
    public static nn.Module<Tensor, Tensor> MoCoProjector(int d) => nn.Sequential(nn.Linear(d, d), nn.ReLU());

    /// <summary>SimCLR head: Lin(nb) D→hidden, BN, ReLU, Lin(b) hidden→dim.</summary>
    public static nn.Module<Tensor, Tensor> SimClrHead(int d, int hidden, int dim) => nn.Sequential(
        nn.Linear(d, hidden, hasBias: false), new ViewBatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, dim));
}
