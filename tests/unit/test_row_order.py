"""RSA ceilings (and every other score) do not depend on the recordings' row order (issue #25,
item 4): the seeded repetition splits are drawn on the stimuli sorted by id."""

import numpy as np
import xarray as xr

from goaldriven.compare.score import score_model
from goaldriven.core.options import ScoringSpec
from goaldriven.data.assemblies import save_assembly
from goaldriven.models.features import save_features

N_STIM, N_REPS, N_SITES = 24, 4, 8


def _recordings():
    """Single trials of 8 sites (4 V4, 4 IT): a signal per image plus trial noise."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(N_STIM, N_SITES))
    values = np.repeat(signal, N_REPS, axis=0) + 0.8 * rng.normal(size=(N_STIM * N_REPS, N_SITES))
    return xr.DataArray(
        values, dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", np.repeat([f"im{i:02d}" for i in range(N_STIM)], N_REPS)),
                "repetition": ("presentation", np.tile(np.arange(N_REPS), N_STIM)),
                "object_name": ("presentation", np.repeat([f"obj{i % 4}" for i in range(N_STIM)], N_REPS)),
                "neuroid_id": ("neuroid", [f"n{j}" for j in range(N_SITES)]),
                "region": ("neuroid", ["V4"] * 4 + ["IT"] * 4)},
        attrs={"identifier": "toy", "stimulus_set_identifier": "toy-stimuli"}), signal


def _features(signal) -> xr.DataArray:
    rng = np.random.default_rng(1)
    x = np.concatenate([signal @ rng.normal(size=(N_SITES, 10)) + rng.normal(size=(N_STIM, 10)),
                        rng.normal(size=(N_STIM, 6))], axis=1)
    return xr.DataArray(x, dims=("presentation", "neuroid"), name="features",
                        coords={"stimulus_id": ("presentation", [f"im{i:02d}" for i in range(N_STIM)]),
                                "layer": ("neuroid", ["conv"] * 10 + ["fc"] * 6)},
                        attrs={"model": "toy/supervised_seed0", "layers": "conv,fc"})


def test_reversed_or_shuffled_presentations_give_identical_scores(tmp_path):
    recordings, signal = _recordings()
    save_features(_features(signal), tmp_path / "features.nc")
    n = recordings.sizes["presentation"]
    orders = {"original": np.arange(n), "reversed": np.arange(n)[::-1],
              "shuffled": np.random.default_rng(2).permutation(n)}
    scores = {}
    for name, order in orders.items():
        save_assembly(recordings.isel(presentation=order), tmp_path / f"{name}.nc")
        scores[name] = score_model(tmp_path / "features.nc", tmp_path / f"{name}.nc", spec=ScoringSpec(splits=3))
    first = scores["original"]
    assert np.isfinite(first["rsa_ceiling_low"].values).all()
    for name in ("reversed", "shuffled"):
        other = scores[name]
        assert set(other.data_vars) == set(first.data_vars)
        for var in first.data_vars:  # exact: the same bits, not merely close
            assert np.array_equal(other[var].values, first[var].values, equal_nan=True), (name, var)
        for coord in first.coords:
            assert np.array_equal(other[coord].values, first[coord].values), (name, coord)
