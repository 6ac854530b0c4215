"""Network definitions in plain torch (torchvision is not assumed).

Every network exposes ``layer_names`` (in depth order) and ``features(x, layers)``, which
returns the named layers' activations; that is all the features stage relies on.
``width`` scales channel counts so CPU runs stay small; the input size is free down to
:data:`MIN_INPUT_SIZE` (every network pools adaptively before its head).

Architectures: ``hmo`` (HMO-like 4-layer HCNN), ``alexnet`` (small AlexNet-style), ``vgg``
(small VGG-style, conv-conv-pool blocks), ``resnet18`` (ResNet-18, basic blocks [2, 2, 2, 2]),
three small CIFAR-sized families that differ from those in kind: ``resnet`` (residual: a CIFAR
ResNet with one basic block a stage), ``cornet`` (recurrent: CORnet-S-like areas V1, V2, V4,
IT) and ``convmixer`` (isotropic: patches mixed by depthwise and pointwise convolutions at one
resolution), and ``brainnet`` (the surrogate behind the simulated recordings, never a candidate).
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.io import InputError
from ..core.registry import ARCHITECTURES

# The smallest image side every architecture takes (5 halvings in ResNet-18 leave 1 pixel).
MIN_INPUT_SIZE = 32


def _channels(base, width: float) -> list[int]:
    """Channel counts scaled by ``width``, never below 4 so tiny CPU networks still work."""
    return [max(4, int(round(c * width))) for c in base]


def _channels8(base, width: float) -> list[int]:
    """Channel counts scaled by ``width`` and rounded to multiples of 8 (at least 8): what the
    CPU's 8-float vectors fill, and never the 2-7 input channels of a strided 1x1 convolution
    that crash oneDNN on channels-last maps under the AVX2 cap (torch 2.13)."""
    return [max(8, 8 * int(round(c * width / 8))) for c in base]


def _block(c_in, c_out, k, stride=1, pool=2):
    """conv -> BatchNorm -> ReLU [-> max-pool]: the repeated HCNN motif (filter, threshold, pool)."""
    layers = [
        nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(pool))
    return nn.Sequential(*layers)


class Network(nn.Module):
    """A stack of named stages followed by a linear read-out (the categorisation head)."""

    def __init__(self, stages: list[tuple[str, nn.Module]], n_out: int, head_in: int):
        super().__init__()
        self.stages = nn.ModuleDict(stages)
        self.head = nn.Linear(head_in, n_out)

    @property
    def layer_names(self) -> list[str]:
        return list(self.stages.keys())

    def features(self, x: torch.Tensor, layers=None) -> dict[str, torch.Tensor]:
        wanted = set(self.layer_names if layers is None else layers)
        unknown = wanted - set(self.layer_names)
        if unknown:
            raise InputError(f"unknown layers {sorted(unknown)}; this network has {self.layer_names}")
        out = {}
        for name, stage in self.stages.items():
            x = stage(x)
            if name in wanted:
                out[name] = x
            if len(out) == len(wanted):
                break
        return out

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages.values():
            x = stage(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def _named(arch: str, modules: list) -> list[tuple[str, nn.Module]]:
    """The stages of ``arch`` under the layer names the registry declares for it."""
    names = ARCHITECTURES[arch].layers
    if len(names) != len(modules):
        raise AssertionError(f"{arch}: {len(modules)} stages, the registry names {len(names)}")
    return list(zip(names, modules))


class _GlobalPool(nn.Module):
    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


def hmo(n_out: int, width: float = 1.0) -> Network:
    """HMO-like 4-layer HCNN (Yamins et al. 2014): heterogeneous filter sizes, each layer
    filter -> threshold -> pool, top layer pooled to a vector."""
    c = _channels((32, 64, 128, 256), width)
    stages = _named("hmo", [
        _block(3, c[0], 7, stride=2),
        _block(c[0], c[1], 5),
        _block(c[1], c[2], 3),
        nn.Sequential(_block(c[2], c[3], 3, pool=0), _GlobalPool()),
    ])
    return Network(stages, n_out, c[3])


def alexnet(n_out: int, width: float = 1.0) -> Network:
    """Small AlexNet-style network: five conv layers and two fully connected layers."""
    c = _channels((48, 96, 144, 144, 96), width)
    f = max(8, int(round(256 * width)))
    stages = _named("alexnet", [
        _block(3, c[0], 5, stride=2),
        _block(c[0], c[1], 5),
        _block(c[1], c[2], 3, pool=0),
        _block(c[2], c[3], 3, pool=0),
        nn.Sequential(_block(c[3], c[4], 3), nn.AdaptiveAvgPool2d(2), nn.Flatten()),
        nn.Sequential(nn.Linear(4 * c[4], f), nn.ReLU(inplace=True)),
        nn.Sequential(nn.Linear(f, f), nn.ReLU(inplace=True)),
    ])
    return Network(stages, n_out, f)


def brainnet(n_out: int, width: float = 1.0) -> Network:
    """The surrogate 'brain' behind simulated recordings. Deliberately not a candidate
    architecture (small kernels, average pooling, five stages), so that recovering its
    layer-to-area assignment is a fair test of the comparison pipeline. Every stage pools, so
    neighbouring stages differ in spatial resolution and the read-out layer is identifiable."""
    c = _channels((24, 48, 96, 128, 192), width)
    def avg_block(c_in, c_out, k, pool=2):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True), nn.AvgPool2d(pool) if pool else nn.Identity())
    stages = _named("brainnet", [
        avg_block(3, c[0], 3),
        avg_block(c[0], c[1], 3),
        avg_block(c[1], c[2], 3),
        avg_block(c[2], c[3], 3),
        nn.Sequential(avg_block(c[3], c[4], 3), _GlobalPool()),
    ])
    return Network(stages, n_out, c[4])


def vgg(n_out: int, width: float = 1.0) -> Network:
    """Small VGG-style network (Simonyan & Zisserman 2015): four blocks of two 3x3
    conv -> BatchNorm -> ReLU layers and a max-pool, then global average pooling."""
    c = _channels((32, 64, 128, 256), width)
    def conv_conv_pool(c_in, c_out):
        return nn.Sequential(_block(c_in, c_out, 3, pool=0), _block(c_out, c_out, 3, pool=2))
    stages = _named("vgg", [
        conv_conv_pool(3, c[0]),
        conv_conv_pool(c[0], c[1]),
        conv_conv_pool(c[1], c[2]),
        conv_conv_pool(c[2], c[3]),
        _GlobalPool(),
    ])
    return Network(stages, n_out, c[3])


class BasicBlock(nn.Module):
    """ResNet basic block (He et al. 2016): two 3x3 convs and an identity (or 1x1
    projection, when the shape changes) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet18(n_out: int, width: float = 1.0) -> Network:
    """ResNet-18 with the ImageNet stem; layers named as in Brain-Score's ResNet-18
    (``conv1`` here includes the stem's max-pool)."""
    c = _channels((64, 128, 256, 512), width)
    def stage(c_in, c_out, stride):
        return nn.Sequential(BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out))
    stages = _named("resnet18", [
        nn.Sequential(nn.Conv2d(3, c[0], 7, stride=2, padding=3, bias=False),
                      nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True),
                      nn.MaxPool2d(3, stride=2, padding=1)),
        stage(c[0], c[0], 1),
        stage(c[0], c[1], 2),
        stage(c[1], c[2], 2),
        stage(c[2], c[3], 2),
        _GlobalPool(),
    ])
    return Network(stages, n_out, c[3])


def resnet(n_out: int, width: float = 1.0, full_res: bool = False) -> Network:
    """CIFAR ResNet (He et al. 2016, section 4.2, in a short variant): a 3x3 stem, three stages of
    basic blocks, each stage doubling the channels and halving the map, then global pooling."""
    c = _channels8((16, 32, 64, 128), width)
    s1 = 1 if full_res else 2
    stages = _named("resnet", [
        nn.Sequential(nn.Conv2d(3, c[0], 3, padding=1, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True)),
        nn.Sequential(BasicBlock(c[0], c[1], s1)),
        nn.Sequential(BasicBlock(c[1], c[2], 2)),
        nn.Sequential(BasicBlock(c[2], c[3], 2)),
        _GlobalPool(),
    ])
    return Network(stages, n_out, c[3])


class CORblockS(nn.Module):
    """One area of a CORnet-S-like network (Kubilius et al. 2019): a strided 3x3 input
    convolution that halves the map, then a bottleneck (1x1 -> 3x3 -> 1x1 convolutions) applied
    ``times`` times to its own output with the same weights, each time step adding its input back
    (a skip) and having its own BatchNorms (the recurrence unrolled in time, as in CORnet-S)."""

    def __init__(self, c_in: int, c_out: int, times: int, scale: float = 0.5):
        super().__init__()
        self.times = times
        c_mid = max(8, int(c_out * scale))
        self.conv_input = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
        self.norm_input = nn.BatchNorm2d(c_out)
        self.conv1 = nn.Conv2d(c_out, c_mid, 1, bias=False)
        self.conv2 = nn.Conv2d(c_mid, c_mid, 3, padding=1, bias=False)
        self.conv3 = nn.Conv2d(c_mid, c_out, 1, bias=False)
        self.norm1 = nn.ModuleList(nn.BatchNorm2d(c_mid) for _ in range(times))
        self.norm2 = nn.ModuleList(nn.BatchNorm2d(c_mid) for _ in range(times))
        self.norm3 = nn.ModuleList(nn.BatchNorm2d(c_out) for _ in range(times))

    def forward(self, x):
        x = torch.relu(self.norm_input(self.conv_input(x)))
        for t in range(self.times):
            h = torch.relu(self.norm1[t](self.conv1(x)))
            h = torch.relu(self.norm2[t](self.conv2(h)))
            x = torch.relu(self.norm3[t](self.conv3(h)) + x)
        return x


def cornet(n_out: int, width: float = 1.0, scale: float = 0.5, times=(2, 4, 2)) -> Network:
    """CORnet-S-like recurrent network (Kubilius et al. 2019), small for 32 px images: area V1 (one
    3x3 convolution at full resolution), then V2, V4 and IT (each a :class:`CORblockS` applied
    recurrently for 2, 4 and 2 time steps), then global pooling. This design (bottleneck half the
    area's channels, no pooling in V1) reached 81% CIFAR-10 test accuracy in 12 epochs where the
    wider CORnet-S layout with a pooled V1 reached 75% at the same cost (benchmarks/train_throughput.py)."""
    c = _channels8((16, 32, 64, 128), width)
    stages = _named("cornet", [
        nn.Sequential(nn.Conv2d(3, c[0], 3, padding=1, bias=False), nn.BatchNorm2d(c[0]), nn.ReLU(inplace=True)),
        CORblockS(c[0], c[1], times[0], scale),
        CORblockS(c[1], c[2], times[1], scale),
        CORblockS(c[2], c[3], times[2], scale),
        _GlobalPool(),
    ])
    return Network(stages, n_out, c[3])


class _Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


def _mixer_layer(h: int, kernel: int, act=nn.GELU) -> nn.Sequential:
    """One ConvMixer layer: a residual depthwise (spatial) convolution, then a pointwise
    (channel) convolution, each followed by GELU and BatchNorm."""
    return nn.Sequential(
        _Residual(nn.Sequential(nn.Conv2d(h, h, kernel, groups=h, padding=kernel // 2), act(),
                                nn.BatchNorm2d(h))),
        nn.Conv2d(h, h, 1), act(), nn.BatchNorm2d(h))


def convmixer(n_out: int, width: float = 0.75, patch: int = 4, kernel: int = 3, per_stage: int = 2, act=nn.ReLU) -> Network:
    """ConvMixer (Trockman & Kolter 2023, "Patches are all you need?"), small: a patch embedding
    (a convolution with stride = kernel = ``patch``, GELU, BatchNorm), then eight ConvMixer layers at
    that one resolution, read out two by two as stages 1-4, then global pooling."""
    h = _channels8((128,), width)[0]
    stages = _named("convmixer", [
        nn.Sequential(nn.Conv2d(3, h, patch, stride=patch), act(), nn.BatchNorm2d(h)),
        *[nn.Sequential(*[_mixer_layer(h, kernel, act) for _ in range(per_stage)]) for _ in range(4)],
        _GlobalPool(),
    ])
    return Network(stages, n_out, h)


# The implementation of each architecture the registry declares (a test checks they match).
FACTORIES = {"hmo": hmo, "alexnet": alexnet, "vgg": vgg, "resnet18": resnet18, "resnet": resnet,
             "cornet": cornet, "convmixer": convmixer, "brainnet": brainnet}


def top_spatial_layer(model: Network, image_hw: tuple[int, int]) -> tuple[str, int, int]:
    """The deepest layer that still has a spatial map, for images of ``image_hw`` pixels:
    ``(name, channels, smaller side of the map)`` (what the autoencoder's decoder reads)."""
    was_training = model.training
    with torch.no_grad():
        feats = model.eval().features(torch.zeros(1, 3, *image_hw))
    model.train(was_training)
    name, a = [(n, a) for n, a in feats.items() if a.dim() == 4][-1]
    return name, a.shape[1], min(a.shape[-2:])


class Decoder(nn.Module):
    """A small decoder for the unsupervised control: from a (C, s, s) map back to the image,
    by 2x nearest upsampling + conv -> BatchNorm -> ReLU steps, then a 3x3 conv to RGB."""

    def __init__(self, c_in: int, side: int, image_hw: tuple[int, int]):
        super().__init__()
        self.image_hw = tuple(image_hw)
        layers, c = [], c_in
        while side < max(image_hw):
            c_next = max(8, c // 2)
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv2d(c, c_next, 3, padding=1, bias=False), nn.BatchNorm2d(c_next),
                       nn.ReLU(inplace=True)]
            c, side = c_next, side * 2
        layers.append(nn.Conv2d(c, 3, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.net(z)
        if out.shape[-2:] != self.image_hw:  # sides that are not the map's side times 2**k
            out = nn.functional.interpolate(out, size=self.image_hw, mode="bilinear",
                                            align_corners=False)
        return out


def build_model(arch: str, n_out: int, width: float = 1.0) -> Network:
    """A freshly initialised network (from torch's global RNG) with ``n_out`` outputs."""
    try:
        factory = FACTORIES[arch]
    except KeyError:
        raise InputError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}") from None
    return factory(n_out, width)
