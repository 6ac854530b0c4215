"""The control models beside every network: raw pixels and the V1-like Gabor bank."""

import math

import numpy as np
import torch

from goaldriven.models.controls import ORIENTATIONS, WAVELENGTHS, gabor_bank, gabor_v1, pixels
from goaldriven.models.external import load_external
from goaldriven.models.features import extract_to_netcdf, open_features
from goaldriven.data.stimulus_sets import load_stimulus_set


def _grating(theta, wavelength, phase=0.0, size=64):
    ax = torch.arange(size, dtype=torch.float32) - size / 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    u = xx * math.cos(theta) + yy * math.sin(theta)
    lum = 0.5 + 0.4 * torch.cos(2 * math.pi * u / wavelength - phase)
    return lum.expand(1, 3, size, size).clone()


def test_gabor_kernels_are_zero_mean_unit_norm_quadrature_pairs():
    bank = gabor_bank()
    assert bank.shape[0] == 2 * ORIENTATIONS * len(WAVELENGTHS)
    flat = bank.flatten(1).double()
    np.testing.assert_allclose(flat.mean(1), 0, atol=1e-6)
    np.testing.assert_allclose(flat.norm(dim=1), 1, atol=1e-5)
    even, odd = flat[0::2], flat[1::2]
    assert (even * odd).sum(1).abs().max() < 0.05  # quadrature: nearly orthogonal
    # each kernel reaches 2.5 sigma of its envelope and no further (the largest sets the size)
    assert bank.shape[-1] == 2 * math.ceil(2.5 * 0.5 * max(WAVELENGTHS)) + 1
    assert bank[0, 0, 0].abs().max() == 0 and bank[-1, 0, bank.shape[-1] // 2].abs().max() > 0


def test_complex_cells_prefer_their_orientation_and_ignore_phase():
    model = gabor_v1().eval()
    k = 2  # the orientation the grating has
    theta = math.pi * k / ORIENTATIONS
    with torch.no_grad():
        responses = [model(_grating(theta, WAVELENGTHS[1], phase)) for phase in (0.0, math.pi / 2, math.pi)]
        simple = [model.simple(model.filters(_grating(theta, WAVELENGTHS[1], phase))) for phase in (0.0, math.pi)]
    # channels of the complex layer (16 x 16 at 64 px): wavelength-major, then orientation
    centre = [r[0, :, 6:10, 6:10].mean((1, 2)).reshape(len(WAVELENGTHS), ORIENTATIONS) for r in responses]
    assert all(int(c[1].argmax()) == k for c in centre)
    np.testing.assert_allclose(centre[0][1, k], centre[1][1, k], rtol=0.1)  # phase-invariant energy
    # simple cells are not: half a cycle swaps the ON and OFF subunits
    assert not torch.allclose(simple[0], simple[1], rtol=0.1)


def test_controls_give_zoo_shaped_features_through_the_external_path(tmp_path, tiny_sets):
    stimuli = load_stimulus_set(tiny_sets["test"])
    for factory, layers, size in (("goaldriven.models.controls:pixels", ["pixels"], 16),
                                  ("goaldriven.models.controls:gabor_v1", ["simple", "complex"], 32)):
        model = load_external(factory, layers, input_size=size, preprocessing="unit")
        feats = open_features(extract_to_netcdf(model, stimuli, tmp_path / f"{layers[0]}.nc", model_id="c",
                                                layers=layers, progress=False))
        assert feats.attrs["layers"] == ",".join(layers) and feats.attrs["input_size"] == size
        assert list(feats["stimulus_id"].values) == list(stimuli["stimulus_id"].values)
    assert feats.attrs["shape_complex"] == f"{len(WAVELENGTHS) * ORIENTATIONS},8,8"
    assert isinstance(pixels(), torch.nn.Module)
