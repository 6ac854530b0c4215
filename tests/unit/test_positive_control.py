"""The positive control: trained minus untrained (and controls) with paired, resampled intervals."""

import sys

import numpy as np
import pytest

from goaldriven.core.io import InputError
from goaldriven.study.positive_control import positive_control_table
from goaldriven.study.statistics import holm
from workflow_helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import positive_control_coverage as sim  # noqa: E402


def test_interval_of_no_difference_covers_zero_with_and_without_seed_variance():
    # Seeded and small for CI (40 data sets of 3 trained and 3 untrained seeds);
    # benchmarks/positive_control_coverage.py runs 1,000. Seeds differ in how well they predict
    # (seed sd 0.4 of the noise): the interval given the seeds covers 0 in about half the data
    # sets, the headline interval (seeds, images and sites) as often as it should.
    small = {"n_img": 40, "n_site": 20, "n_boot": 100}
    for score, share in sim.coverage(40, seed=1, seed_sd=0.4, **small).items():
        assert share["headline"] >= 0.875 and share["seeds_fixed"] <= 0.7, (score, share)
    for score, share in sim.coverage(20, seed=1, seed_sd=0.0, **small).items():
        assert share["headline"] >= 0.95, (score, share)  # no seed variance: conservative


def test_a_better_trained_network_is_detected():
    shares = sim.coverage(8, better=0.6, seed=2, n_boot=100, seed_sd=0.1)
    assert all(share["headline"] <= 0.25 for share in shares.values()), shares  # excludes 0 in >= 75%


def test_with_seeds_adds_the_seed_spread_with_its_degrees_of_freedom():
    from scipy import stats

    from goaldriven.study.positive_control import with_seeds

    boot = np.random.default_rng(0).normal(0, 0.01, 1000)
    paired = with_seeds(0.1, [[0.05, 0.1, 0.15]], boot)  # the seed term dominates: df near 2
    se = np.sqrt(np.var([0.05, 0.1, 0.15], ddof=1) / 3 + np.var(boot, ddof=1))
    assert 2 < paired["df"] < 3 and paired["high"] - 0.1 == pytest.approx(stats.t.ppf(0.975, paired["df"]) * se)
    assert paired["p"] == pytest.approx(2 * stats.t.sf(0.1 / se, paired["df"]))
    assert np.isinf(with_seeds(0.1, [], boot)["df"])  # a single control model: images and sites only
    assert np.isnan(with_seeds(0.1, [[0.1]], boot)["low"])  # one seed: no seed spread to estimate


def test_rows_pair_each_trained_seed_with_its_untrained_seed_and_choose_layers_held_out():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(40, 20))
    observed = signal + rng.normal(size=signal.shape)
    # 3 seeds: with 2 the seed variance's upper bound (the df's) is 16 times its estimate
    files = [sim.score_dataset(m, signal, observed, rng, noise=noise) for m, noise in (
        *((f"a/supervised_seed{s}", (0.5, 2.0)) for s in range(3)),
        *((f"a/untrained_seed{s}", (2.0, 3.0)) for s in range(3)),
        ("pixels/external_seed0", (3.0, 3.0)))]
    table = positive_control_table(files, controls=["pixels"], n_boot=100)
    assert set(table["comparison"]) == {"untrained (same seed)", "pixels"}
    assert list(table["seed_pairing"].unique()) == ["paired", "none"]
    assert (table["p_adjusted"] == holm(table["p_value"])).all() and table["survives_holm"].all()
    assert table["p_family"].iloc[0].startswith("Holm over the 4 rows")
    assert table["resampling"].str.startswith("seeds").all()
    assert (table["difference_seeds_fixed_low"] > 0).all()
    assert (table["n_seeds"] == 3).all() and (table["n_sites"] == 20).all()
    assert table["excludes_zero"].all() and (table["difference_low"] > 0).all()
    assert (table["trained_layers"] == "; ".join(["layer0 | layer0"] * 3)).all()
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


def test_the_two_diets_of_an_architecture_are_compared_over_their_own_seeds():
    rng = np.random.default_rng(3)
    signal = rng.normal(size=(40, 20))
    observed = signal + rng.normal(size=signal.shape)
    specs = [("a/supervised_seed0", (0.5, 2.0)), ("a/supervised_seed1", (0.5, 2.0)), ("a/supervised_seed2", (0.5, 2.0)),
             ("a/untrained_seed0", (2.0, 3.0)), ("a/untrained_seed1", (2.0, 3.0)), ("a/untrained_seed2", (2.0, 3.0)),
             ("a/objects_seed0", (2.5, 3.0)), ("a/objects_seed1", (2.5, 3.0)), ("a/objects_seed2", (2.5, 3.0)),
             ("a/untrained_objects_seed0", (2.0, 3.0)), ("a/untrained_objects_seed1", (2.0, 3.0)),
             ("a/untrained_objects_seed2", (2.0, 3.0))]
    table = positive_control_table([sim.score_dataset(m, signal, observed, rng, noise=n) for m, n in specs],
                                   n_boot=100)
    diet = table[table["comparison"] == "objects diet (same architecture)"]
    assert len(diet) and set(diet["task"]) == {"supervised"} and (diet["n_seeds"] == 3).all()
    assert (diet["n_seeds_comparison"] == 3).all() and (diet["seed_pairing"] == "independent").all()
    assert diet["excludes_zero"].all() and (diet["difference_low"] > 0).all()  # the better-fed diet wins
    objects = table[(table["task"] == "objects") & (table["score"] == diet["score"].iloc[0])]
    # the diet's control score is the mean over the objects seeds, the same as its own trained score
    assert diet["control"].iloc[0] == pytest.approx(objects["trained"].iloc[0])


def test_scores_of_two_mapping_methods_are_not_compared():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=(30, 8))
    a = sim.score_dataset("a/supervised_seed0", signal, signal + rng.normal(size=signal.shape), rng)
    b = a.copy()
    b.attrs = {**a.attrs, "model": "a/untrained_seed0", "method": "pls"}
    with pytest.raises(InputError, match="another comparison.method"):
        positive_control_table([a, b], n_boot=10)
