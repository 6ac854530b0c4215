"""Control models that every network score is read against: raw pixels and a V1-like Gabor
filter bank. Neither learns anything; they enter a config as external models
(``models.external``, factory ``goaldriven.controls:pixels`` or ``goaldriven.controls:gabor_v1``,
preprocessing ``unit``), so their features, scores and intervals come from the very same stages
as the networks'.

The Gabor bank follows the classic V1 energy model (Adelson & Bergen 1985; the "V1-like"
baseline of Pinto et al. 2008): luminance filtered by Gabor pairs in quadrature at 8
orientations and 3 wavelengths at every pixel; ``simple`` holds the half-wave rectified
responses of both phases (sign-split, so ON and OFF subunits are separate units) averaged over
2x2 positions, ``complex`` the local energy
sqrt(even^2 + odd^2) averaged over 4x4 positions. Wavelengths are in pixels of the input the
config gives (``input_size``), so state that size with the scores.
"""

from __future__ import annotations

import math

import torch
from torch import nn

ORIENTATIONS = 8
WAVELENGTHS = (4.0, 8.0, 16.0)  # pixels; a sigma of 0.5 wavelength gives about 1.5 octaves
ENVELOPE = 2.5  # kernels reach 2.5 sigma (the envelope's edge weight is 4% of its peak)


class Pixels(nn.Module):
    """The image itself as one layer, ``pixels``: the floor of every similarity and score."""

    def __init__(self):
        super().__init__()
        self.pixels = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pixels(x)


def gabor_bank(orientations: int = ORIENTATIONS, wavelengths=WAVELENGTHS) -> torch.Tensor:
    """Zero-mean, unit-norm Gabor kernels (filters, 1, size, size): for each wavelength and
    orientation an even (cosine) and an odd (sine) one, in that order. Each kernel reaches
    ENVELOPE sigmas of its own envelope and is zero beyond (all share the largest size)."""
    half = int(math.ceil(ENVELOPE * 0.5 * max(wavelengths)))
    ax = torch.arange(-half, half + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    kernels = []
    for lam in wavelengths:
        sigma = 0.5 * lam
        support = (xx.abs() <= ENVELOPE * sigma) & (yy.abs() <= ENVELOPE * sigma)
        envelope = torch.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2)) * support
        for k in range(orientations):
            theta = math.pi * k / orientations
            u = xx * math.cos(theta) + yy * math.sin(theta)
            for phase in (0.0, math.pi / 2):
                g = envelope * torch.cos(2 * math.pi * u / lam - phase)
                g = (g - g[support].mean()) * support
                kernels.append(g / g.norm())
    return torch.stack(kernels)[:, None].float()


class _Filters(nn.Module):
    """The Gabor bank applied to the luminance at every pixel (so the finest filters do not alias)."""

    def __init__(self, bank: torch.Tensor):
        super().__init__()
        self.register_buffer("bank", bank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lum = x.mean(1, keepdim=True) - 0.5  # luminance around the mean grey of a unit image
        return nn.functional.conv2d(lum, self.bank, padding=self.bank.shape[-1] // 2)


class _Simple(nn.Module):
    """Half-wave rectified responses, ON and OFF apart, averaged over 2x2 positions."""

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(torch.cat([torch.relu(r), torch.relu(-r)], 1), 2)


class _Complex(nn.Module):
    """Energy of each quadrature pair, sqrt(even^2 + odd^2), averaged over 4x4 positions."""

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return nn.functional.avg_pool2d(torch.sqrt(r[:, 0::2] ** 2 + r[:, 1::2] ** 2 + 1e-12), 4)


class GaborV1(nn.Module):
    """A fixed V1-like model: layers ``simple`` and ``complex`` (see the module docstring), both
    read from the same filter responses."""

    def __init__(self):
        super().__init__()
        self.filters = _Filters(gabor_bank())
        self.simple = _Simple()
        self.complex = _Complex()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.filters(x)
        self.simple(r)  # computed for its forward hook (the features stage reads layers by hooks)
        return self.complex(r)


def pixels() -> nn.Module:
    """Factory of the raw-pixel control (``goaldriven.controls:pixels``, layers ``[pixels]``)."""
    return Pixels()


def gabor_v1() -> nn.Module:
    """Factory of the V1-like control (``goaldriven.controls:gabor_v1``, layers ``[simple, complex]``)."""
    return GaborV1()
