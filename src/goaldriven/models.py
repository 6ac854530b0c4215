"""Network definitions in plain torch (torchvision is not assumed).

Every network exposes ``layer_names`` (in depth order) and ``features(x, layers)``, which
returns the named layers' activations; that is all the features stage relies on.
``width`` scales channel counts so CPU runs stay small; the input size is free (the head
pools adaptively).
"""

from __future__ import annotations

import torch
from torch import nn


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
            raise ValueError(f"unknown layers {sorted(unknown)}; this network has {self.layer_names}")
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


class _GlobalPool(nn.Module):
    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)


def hmo(n_out: int, width: float = 1.0) -> Network:
    """HMO-like 4-layer HCNN (Yamins et al. 2014): heterogeneous filter sizes, each layer
    filter -> threshold -> pool, top layer pooled to a vector."""
    c = [max(4, int(round(w * width))) for w in (32, 64, 128, 256)]
    stages = [
        ("layer1", _block(3, c[0], 7, stride=2)),
        ("layer2", _block(c[0], c[1], 5)),
        ("layer3", _block(c[1], c[2], 3)),
        ("layer4", nn.Sequential(_block(c[2], c[3], 3, pool=0), _GlobalPool())),
    ]
    return Network(stages, n_out, c[3])


def alexnet(n_out: int, width: float = 1.0) -> Network:
    """Small AlexNet-style network: five conv layers and two fully connected layers."""
    c = [max(4, int(round(w * width))) for w in (48, 96, 144, 144, 96)]
    f = max(8, int(round(256 * width)))
    stages = [
        ("conv1", _block(3, c[0], 5, stride=2)),
        ("conv2", _block(c[0], c[1], 5)),
        ("conv3", _block(c[1], c[2], 3, pool=0)),
        ("conv4", _block(c[2], c[3], 3, pool=0)),
        ("conv5", nn.Sequential(_block(c[3], c[4], 3), nn.AdaptiveAvgPool2d(2), nn.Flatten())),
        ("fc6", nn.Sequential(nn.Linear(4 * c[4], f), nn.ReLU(inplace=True))),
        ("fc7", nn.Sequential(nn.Linear(f, f), nn.ReLU(inplace=True))),
    ]
    return Network(stages, n_out, f)


def brainnet(n_out: int, width: float = 1.0) -> Network:
    """The surrogate 'brain' behind simulated recordings. Deliberately not a candidate
    architecture (small kernels, average pooling, five stages), so that recovering its
    layer-to-area assignment is a fair test of the comparison pipeline. Every stage pools, so
    neighbouring stages differ in spatial resolution and the read-out layer is identifiable."""
    c = [max(4, int(round(w * width))) for w in (24, 48, 96, 128, 192)]
    def avg_block(c_in, c_out, k, pool=2):
        return nn.Sequential(
            nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True), nn.AvgPool2d(pool) if pool else nn.Identity())
    stages = [
        ("stage1", avg_block(3, c[0], 3)),
        ("stage2", avg_block(c[0], c[1], 3)),
        ("stage3", avg_block(c[1], c[2], 3)),
        ("stage4", avg_block(c[2], c[3], 3)),
        ("stage5", nn.Sequential(avg_block(c[3], c[4], 3), _GlobalPool())),
    ]
    return Network(stages, n_out, c[4])


ARCHITECTURES = {"hmo": hmo, "alexnet": alexnet, "brainnet": brainnet}


def build_model(arch: str, n_out: int, width: float = 1.0) -> Network:
    try:
        factory = ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose from {sorted(ARCHITECTURES)}") from None
    return factory(n_out, width)
