"""PyTorch modules built to the structure of the NASiam reference code, written from the method
doc (docs: /work/shared/docs/nasiam-method.md, sections cited per class), not copied from it.

Only the module structure (and so the state-dict keys), the forward computation and the losses
matter here: weights always come from the product's export (load_state_dict(strict=True)), so the
initialisers of the reference are not reproduced. No torchvision dependency: the ResNets are
written to torchvision's child names (conv1, bn1, relu, maxpool, layer1..4, avgpool, fc).

Compatibility: Debian 12's python3-torch (1.13) and newer.
"""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------------------------
# Search space (method doc 2.1-2.6)
# ---------------------------------------------------------------------------------------------

#: Alpha column order (doc 2.1): SimSiam and MoCo; SimCLR swaps columns 4 and 5.
SIMSIAM_MOCO_COLUMNS = ["maxpool_3x3", "avgpool_3x3", "identity", "linear_relu", "linear_silu",
                        "linear_hardswish", "linear_elu"]
SIMCLR_COLUMNS = ["maxpool_3x3", "avgpool_3x3", "identity", "linear_relu", "linear_hardswish",
                  "linear_silu", "linear_elu"]

_ACTIVATIONS = {
    "linear_relu": lambda: nn.ReLU(inplace=True),
    "linear_silu": lambda: nn.SiLU(inplace=True),
    "linear_hardswish": lambda: nn.Hardswish(inplace=True),
    "linear_elu": lambda: nn.ELU(inplace=True),
}


class OpSet:
    """Builds the seven candidate ops for (in_dim, out_dim) with the wrapper rules of doc 2.2.

    moco_reference_bn: the MoCo variant of doc 2.2 (defect D1): linear ops with in >= out are
    Lin(b) -> BatchNorm1d(num_features=in_dim, eps=out_dim) -> act. False gives the SimSiam/SimCLR
    rule (Lin(nb) -> BN(out) -> act), which is also the doc's recommended D1 fix.
    """

    def __init__(self, framework, moco_reference_bn=False):
        self.columns = SIMCLR_COLUMNS if framework == "simclr" else SIMSIAM_MOCO_COLUMNS
        self.moco_reference_bn = moco_reference_bn and framework == "moco"

    @staticmethod
    def _wrap(in_dim, out_dim, op):
        # Pooling / identity wrapper (doc 2.2): reduction Lin(nb)-BN-ReLU-op, expansion Lin(b)-op,
        # equal widths: the op alone. The expansion form is a 2-entry Sequential even for identity
        # (keys "0.weight", "0.bias").
        if in_dim > out_dim:
            return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False), nn.BatchNorm1d(out_dim),
                                 nn.ReLU(inplace=True), op)
        if in_dim < out_dim:
            return nn.Sequential(nn.Linear(in_dim, out_dim), op)
        return op

    def _linear(self, name, in_dim, out_dim):
        if in_dim < out_dim:
            return nn.Linear(in_dim, out_dim)  # expansion: one affine map, the activation is ignored
        if self.moco_reference_bn:
            return nn.Sequential(nn.Linear(in_dim, out_dim), nn.BatchNorm1d(in_dim, out_dim),
                                 _ACTIVATIONS[name]())
        return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False), nn.BatchNorm1d(out_dim),
                             _ACTIVATIONS[name]())

    def create(self, name, in_dim, out_dim):
        if name == "maxpool_3x3":
            # 1-D pooling over the feature axis of a 2-D [N, D] tensor (doc 2.3): PyTorch reads it
            # as an unbatched (C=N, L=D) input, so samples are never mixed.
            return self._wrap(in_dim, out_dim, nn.Sequential(nn.MaxPool1d(3, stride=1, padding=1),
                                                             nn.BatchNorm1d(out_dim)))
        if name == "avgpool_3x3":
            return self._wrap(in_dim, out_dim, nn.Sequential(nn.AvgPool1d(3, stride=1, padding=1),
                                                             nn.BatchNorm1d(out_dim)))
        if name == "identity":
            return self._wrap(in_dim, out_dim, nn.Identity())
        if name in _ACTIVATIONS:
            return self._linear(name, in_dim, out_dim)
        raise ValueError(f"unknown operation {name!r}")


def layer_widths(in_dim, layers, hidden_dim, out_dim):
    """Doc 2.5: layer 0 in->hidden, last hidden->out, middle hidden->hidden (one layer: in->hidden)."""
    return [(in_dim, hidden_dim) if i == 0 else (hidden_dim, out_dim) if i == layers - 1
            else (hidden_dim, hidden_dim) for i in range(layers)]


class MixedOp(nn.Module):
    """Doc 2.4: all seven ops, output = sum_k w_k * op_k(x)."""

    def __init__(self, ops, in_dim, out_dim):
        super().__init__()
        self._ops = nn.ModuleList([ops.create(name, in_dim, out_dim) for name in ops.columns])

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self._ops))


class SearchCell(nn.Module):
    """Doc 2.5: a chain of MixedOps; alphas [layers, 7] are a plain leaf tensor (zeros,
    requires_grad), NOT a registered parameter, so they are absent from the state dict."""

    def __init__(self, ops, dim, num_layers, hidden_dim=None, out_dim=None):
        super().__init__()
        hidden_dim = dim if hidden_dim is None else hidden_dim
        out_dim = dim if out_dim is None else out_dim
        self._ops = nn.ModuleList([MixedOp(ops, i, o) for i, o in
                                   layer_widths(dim, num_layers, hidden_dim, out_dim)])
        self.alphas = torch.zeros(num_layers, len(ops.columns), requires_grad=True)

    def forward(self, x):
        weights = torch.softmax(self.alphas, dim=1)
        for i, op in enumerate(self._ops):
            x = op(x, weights[i])
        return x


class Cell(nn.Module):
    """Doc 2.6: the derived cell; layer i holds a one-entry ModuleList with the op of gene[0]
    (keys "_ops.<i>.0.<...>"); forward sums that list's members."""

    def __init__(self, ops, dim, genes, hidden_dim=None, out_dim=None):
        super().__init__()
        hidden_dim = dim if hidden_dim is None else hidden_dim
        out_dim = dim if out_dim is None else out_dim
        widths = layer_widths(dim, len(genes), hidden_dim, out_dim)
        self._ops = nn.ModuleList([nn.ModuleList([ops.create(gene[0], i, o)])
                                   for gene, (i, o) in zip(genes, widths)])

    def forward(self, x):
        for layer in self._ops:
            x = sum(op(x) for op in layer)
        return x


# ---------------------------------------------------------------------------------------------
# Backbones (doc 3): torchvision's ResNet structure, and the CIFAR conversion
# ---------------------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck: the stride sits on the 3x3 conv."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


RESNETS = {"resnet18": (BasicBlock, [2, 2, 2, 2]), "resnet50": (Bottleneck, [3, 4, 6, 3]),
           # Not the reference's: the engine's CPU demo trunk (BackboneFactory "resnet-tiny", the quick demo's),
           # ResNet-18's structure with one BasicBlock per stage, so its exports can be strict-loaded too.
           "resnet-tiny": (BasicBlock, [1, 1, 1, 1])}
# Stage widths (planes); the stem conv has the first. torchvision's unless listed.
WIDTHS = {"resnet-tiny": [16, 32, 64, 128]}


def widths(arch):
    return WIDTHS.get(arch, [64, 128, 256, 512])


class ResNet(nn.Module):
    """torchvision's ResNet (ImageNet stem: 7x7 stride-2 conv, max-pool), children conv1, bn1,
    relu, maxpool, layer1..4, avgpool, fc."""

    def __init__(self, arch, num_classes):
        super().__init__()
        block, counts = RESNETS[arch]
        w = widths(arch)
        self.inplanes = w[0]
        self.conv1 = nn.Conv2d(3, w[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._stage(block, w[0], counts[0], 1)
        self.layer2 = self._stage(block, w[1], counts[1], 2)
        self.layer3 = self._stage(block, w[2], counts[2], 2)
        self.layer4 = self._stage(block, w[3], counts[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(w[3] * block.expansion, num_classes)

    def _stage(self, block, planes, count, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes) for _ in range(1, count)]
        return nn.Sequential(*blocks)

    def trunk(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.trunk(x))


def convert_cifar(net):
    """Doc 3, convert_cifar: children in order, conv1 -> 3x3 stride-1 (3->64, no bias; 3->16 for
    resnet-tiny), max-pool dropped, a Flatten inserted before fc; a plain Sequential whose last child
    is still `fc`."""
    children = []
    for name, module in net.named_children():
        if name == "conv1":
            module = nn.Conv2d(3, module.out_channels, 3, 1, 1, bias=False)
        if isinstance(module, nn.MaxPool2d):
            continue
        if isinstance(module, nn.Linear):
            children.append(("flatten", nn.Flatten(1)))
        children.append((name, module))
    return nn.Sequential(OrderedDict(children))


def backbone(arch, stem, num_classes):
    """The encoder of doc 3: the torchvision ResNet, converted for CIFAR when stem == "cifar".
    (The reference keys conversion on the name "resnet18" (D18); the product chooses the stem
    explicitly, so the stem is a parameter here.)"""
    net = ResNet(arch, num_classes)
    return convert_cifar(net) if stem == "cifar" else net


def trunk_features(encoder, x):
    """The encoder's pooled, flattened feature before its fc (head)."""
    if isinstance(encoder, ResNet):
        return encoder.trunk(x)
    for name, module in encoder.named_children():
        if name == "fc":
            break
        x = module(x)
    return x


# ---------------------------------------------------------------------------------------------
# Framework models (doc 4)
# ---------------------------------------------------------------------------------------------

class SimSiam(nn.Module):
    """Doc 4.1. form: "search" (SearchCells C_e D/D/D and C_p dim/pred/dim), "final" (derived Cells
    from a genotype) or "standard" (baseline heads). encoder.fc = Sequential(cell, fc, BN(affine=
    False)) with fc's bias frozen; the cells are also attributes cell_encoder / cell_predictor, and
    predictor = Sequential(cell_predictor): the reference's duplicate keys."""

    def __init__(self, form, arch, stem, dim=2048, pred_dim=512, genotype=None, encoder_layers=6,
                 predictor_layers=4):
        super().__init__()
        ops = OpSet("simsiam")
        self.encoder = backbone(arch, stem, dim)
        prev = self.encoder.fc.weight.shape[1]
        fc = self.encoder.fc
        if form == "standard":
            self.encoder.fc = nn.Sequential(nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                                            nn.Linear(prev, prev, bias=False), nn.BatchNorm1d(prev), nn.ReLU(inplace=True),
                                            fc, nn.BatchNorm1d(dim, affine=False))
            self.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False), nn.BatchNorm1d(pred_dim),
                                           nn.ReLU(inplace=True), nn.Linear(pred_dim, dim))
        else:
            if form == "search":
                self.cell_encoder = SearchCell(ops, prev, encoder_layers)
                self.cell_predictor = SearchCell(ops, dim, predictor_layers, hidden_dim=pred_dim)
            else:
                self.cell_encoder = Cell(ops, prev, genotype["encoder"])
                self.cell_predictor = Cell(ops, dim, genotype["predictor"], hidden_dim=pred_dim)
            self.encoder.fc = nn.Sequential(self.cell_encoder, fc, nn.BatchNorm1d(dim, affine=False))
            self.predictor = nn.Sequential(self.cell_predictor)
        fc.bias.requires_grad = False

    def arch_parameters(self):
        return {"encoder": self.cell_encoder.alphas, "predictor": self.cell_predictor.alphas}

    def features(self, x):
        return trunk_features(self.encoder, x)

    def embedding(self, x):
        return self.encoder(x)  # z

    def loss(self, x1, x2):
        z1, z2 = self.encoder(x1), self.encoder(x2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        cos = nn.CosineSimilarity(dim=1)  # eps 1e-8
        return -(cos(p1, z2.detach()).mean() + cos(p2, z1.detach()).mean()) * 0.5


class MoCo(nn.Module):
    """Doc 4.2. Query and key encoders with fc = Sequential(cell, fc) where ONE cell object is shared
    by both (cell_encoder); search form: parameters are copied q -> k and frozen on the key side
    BEFORE the heads are swapped, so the cell trains; final form: after the swap, so the cell is
    frozen at init (D2) unless train_final_cell. standard: fc = Sequential(Lin(b), ReLU, fc) per side.
    Forward: momentum update, contrastive(x1, x2) then contrastive(x2, x1) (keys through a
    shuffled batch), loss = sum, enqueue [k1; k2]."""

    def __init__(self, form, arch, stem, dim=128, queue_size=4096, momentum=0.999, temperature=0.1,
                 genotype=None, encoder_layers=4, moco_reference_bn=True, train_final_cell=False):
        super().__init__()
        self.K, self.m, self.T = queue_size, momentum, temperature
        ops = OpSet("moco", moco_reference_bn)
        self.encoder_q = backbone(arch, stem, dim)
        self.encoder_k = backbone(arch, stem, dim)
        dim_mlp = self.encoder_q.fc.weight.shape[1]

        def freeze_keys():
            for q, k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
                k.data.copy_(q.data)
                k.requires_grad = False

        if form == "search":
            self.cell_encoder = SearchCell(ops, dim_mlp, encoder_layers)
            freeze_keys()
            self.encoder_q.fc = nn.Sequential(self.cell_encoder, self.encoder_q.fc)
            self.encoder_k.fc = nn.Sequential(self.cell_encoder, self.encoder_k.fc)
        elif form == "final":
            self.cell_encoder = Cell(ops, dim_mlp, genotype["encoder"])
            self.encoder_q.fc = nn.Sequential(self.cell_encoder, self.encoder_q.fc)
            self.encoder_k.fc = nn.Sequential(self.cell_encoder, self.encoder_k.fc)
            freeze_keys()  # D2: the shared cell is frozen here
            if train_final_cell:
                for p in self.cell_encoder.parameters():
                    p.requires_grad = True
        else:
            self.encoder_q.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(), self.encoder_q.fc)
            self.encoder_k.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(), self.encoder_k.fc)
            freeze_keys()
        self.register_buffer("queue", F.normalize(torch.randn(dim, queue_size), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    def arch_parameters(self):
        return {"encoder": self.cell_encoder.alphas}

    def features(self, x):
        return trunk_features(self.encoder_q, x)

    def embedding(self, x):
        return self.encoder_q(x)  # q before normalisation

    @torch.no_grad()
    def _momentum_update(self):
        for q, k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            k.data = k.data * self.m + q.data * (1.0 - self.m)

    @torch.no_grad()
    def _enqueue(self, keys):
        n, ptr = keys.shape[0], int(self.queue_ptr)
        assert self.K % n == 0
        self.queue[:, ptr:ptr + n] = keys.t()
        self.queue_ptr[0] = (ptr + n) % self.K

    def _contrastive(self, im_q, im_k):
        q = F.normalize(self.encoder_q(im_q), dim=1)
        with torch.no_grad():
            shuffle = torch.randperm(im_k.shape[0])
            k = F.normalize(self.encoder_k(im_k[shuffle]), dim=1)
            k = k[torch.argsort(shuffle)]
        l_pos = torch.einsum("nc,nc->n", q, k).unsqueeze(-1)
        l_neg = torch.einsum("nc,ck->nk", q, self.queue.clone().detach())
        logits = torch.cat([l_pos, l_neg], dim=1) / self.T
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        return F.cross_entropy(logits, labels), k

    def loss(self, x1, x2):
        self._momentum_update()
        loss_12, k2 = self._contrastive(x1, x2)
        loss_21, k1 = self._contrastive(x2, x1)
        self._enqueue(torch.cat([k1, k2], dim=0))
        return loss_12 + loss_21


class SimCLR(nn.Module):
    """Doc 4.3. f = Sequential of the CIFAR ResNet-50's children by index (conv1 3x3, bn1, relu,
    layer1..4, avgpool; no max-pool, no fc), g = Sequential(cell_projector) (the cell 2048 -> 512
    -> 128) or, for the standard head, Sequential(Lin(nb), BN, ReLU, Lin(b)). NT-Xent at T."""

    def __init__(self, form, arch="resnet50", feature_dim=128, hidden_dim=512, temperature=0.5,
                 genotype=None, predictor_layers=6):
        super().__init__()
        self.T = temperature
        ops = OpSet("simclr")
        modules = []
        for name, module in ResNet(arch, 1000).named_children():
            if name == "conv1":
                module = nn.Conv2d(3, module.out_channels, 3, 1, 1, bias=False)
            if not isinstance(module, (nn.Linear, nn.MaxPool2d)):
                modules.append(module)
        self.f = nn.Sequential(*modules)
        d = widths(arch)[3] * RESNETS[arch][0].expansion
        if form == "standard":
            self.g = nn.Sequential(nn.Linear(d, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim),
                                   nn.ReLU(inplace=True), nn.Linear(hidden_dim, feature_dim))
        else:
            self.cell_projector = (SearchCell(ops, d, predictor_layers, hidden_dim, feature_dim) if form == "search"
                                   else Cell(ops, d, genotype["predictor"], hidden_dim, feature_dim))
            self.g = nn.Sequential(self.cell_projector)

    def arch_parameters(self):
        return {"predictor": self.cell_projector.alphas}

    def features(self, x):
        return torch.flatten(self.f(x), start_dim=1)

    def embedding(self, x):
        return self.g(self.features(x))

    def loss(self, x1, x2):
        out_1 = F.normalize(self.embedding(x1), dim=-1)
        out_2 = F.normalize(self.embedding(x2), dim=-1)
        b = out_1.shape[0]
        out = torch.cat([out_1, out_2], dim=0)
        sim = torch.exp(torch.mm(out, out.t().contiguous()) / self.T)
        mask = (torch.ones_like(sim) - torch.eye(2 * b)).bool()
        sim = sim.masked_select(mask).view(2 * b, -1)
        pos = torch.exp(torch.sum(out_1 * out_2, dim=-1) / self.T)
        pos = torch.cat([pos, pos], dim=0)
        return (-torch.log(pos / sim.sum(dim=-1))).mean()


def build(manifest):
    """The reference model a case manifest describes (see tools/parity/compare.py)."""
    fw, form = manifest["framework"], manifest["form"]
    genotype = manifest.get("genotype")
    if fw == "simsiam":
        return SimSiam(form, manifest["backbone"], manifest["stem"], manifest["dim"], manifest["pred_dim"], genotype,
                       manifest.get("encoder_layers", 6), manifest.get("predictor_layers", 4))
    if fw == "moco":
        return MoCo(form, manifest["backbone"], manifest["stem"], manifest["dim"], manifest["queue_size"],
                    manifest["momentum"], manifest["temperature"], genotype, manifest.get("encoder_layers", 4),
                    manifest["moco_reference_bn"], manifest.get("train_final_cell", False))
    if fw == "simclr":
        if manifest["stem"] != "cifar":
            raise ValueError("the reference SimCLR trunk always has the CIFAR stem (doc 3)")
        return SimCLR(form, manifest["backbone"], manifest["dim"], manifest["pred_dim"], manifest["temperature"],
                      genotype, manifest.get("predictor_layers", 6))
    raise ValueError(f"unknown framework {fw!r}")
