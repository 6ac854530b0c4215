"""RSA ceilings (and every other score) do not depend on the recordings' row order (issue #25,
item 4): the seeded repetition splits are drawn on the stimuli sorted by id."""

import numpy as np

from goaldriven.compare.score import score_model
from goaldriven.core.options import ScoringSpec
from goaldriven.data.assemblies import save_assembly
from goaldriven.models.features import save_features
from builders import toy_features, toy_recordings


def test_reversed_or_shuffled_presentations_give_identical_scores(tmp_path):
    recordings, signal = toy_recordings()
    save_features(toy_features(signal), tmp_path / "features.nc")
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
