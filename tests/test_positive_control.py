"""The positive control: trained minus untrained (and controls) with paired, resampled intervals."""

import sys

import numpy as np
import pytest

from goaldriven.io import InputError
from goaldriven.positive_control import positive_control_table
from workflow_helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import positive_control_coverage as sim  # noqa: E402


def test_interval_of_no_difference_covers_zero_at_least_95_percent():
    # Seeded and small for CI; benchmarks/positive_control_coverage.py runs 1,000 data sets
    # (there the two-way resampling of images and sites is conservative: it covers 0 more often).
    for score, share in sim.coverage(40, seed=1, n_boot=200).items():
        assert share >= 0.95, (score, share)


def test_a_better_trained_network_is_detected():
    shares = sim.coverage(8, better=0.6, seed=2, n_boot=200)
    assert all(share <= 0.25 for share in shares.values()), shares  # excludes 0 in >= 75%


def test_rows_pair_each_trained_seed_with_its_untrained_seed_and_choose_layers_held_out():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(40, 20))
    observed = signal + rng.normal(size=signal.shape)
    files = [sim.score_dataset(m, signal, observed, rng, noise=noise) for m, noise in (
        ("a/supervised_seed0", (0.5, 2.0)), ("a/supervised_seed1", (0.5, 2.0)),
        ("a/untrained_seed0", (2.0, 3.0)), ("a/untrained_seed1", (2.0, 3.0)),
        ("pixels/external_seed0", (3.0, 3.0)))]
    table = positive_control_table(files, controls=["pixels"], n_boot=100)
    assert set(table["comparison"]) == {"untrained (same seed)", "pixels"}
    assert (table["n_seeds"] == 2).all() and (table["n_sites"] == 20).all()
    assert table["excludes_zero"].all() and (table["difference_low"] > 0).all()
    assert (table["trained_layers"] == "layer0 | layer0; layer0 | layer0").all()
    assert {"ceiling-normalised EV (sites with a ceiling)", "median r (all sites)"} == set(table["score"])
    # the trained score is the same whichever comparison it stands beside
    assert table.groupby("score")["trained"].nunique().eq(1).all()


def test_score_files_of_other_images_are_refused():
    rng = np.random.default_rng(0)
    a = sim.score_dataset("a/supervised_seed0", rng.normal(size=(10, 6)), rng.normal(size=(10, 6)), rng)
    b = sim.score_dataset("a/untrained_seed0", rng.normal(size=(12, 6)), rng.normal(size=(12, 6)), rng)
    with pytest.raises(InputError, match="not the same images and sites"):
        positive_control_table([a, b], n_boot=10)
    with pytest.raises(InputError, match="holds no held-out predictions"):
        positive_control_table([a.drop_vars("prediction")], n_boot=10)
