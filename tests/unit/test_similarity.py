"""Model x model similarity: debiased CKA with a null, summaries, layer correspondence."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ortho_group
import xarray as xr

from goaldriven.cli import main
from goaldriven.core.io import InputError, write_netcdf
from goaldriven.compare.similarity import (Grams, correspondence, layer_correspondence, similarity_summary,
                                   similarity_table, u_centre)


# Reference implementations, written out from the definitions (Kornblith et al. 2019; the
# unbiased HSIC of Song et al. 2012), against which the stacked Gram matrices are checked.
def _centre(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    return X - X.mean(axis=0)


def linear_cka(X, Y) -> float:
    X, Y = _centre(X), _centre(Y)
    return float(np.linalg.norm(Y.T @ X) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def _unbiased_hsic(K: np.ndarray, L: np.ndarray) -> float:
    n = K.shape[0]
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    ones = np.ones(n)
    term = np.sum(K * L) + (ones @ K @ ones) * (ones @ L @ ones) / ((n - 1) * (n - 2)) \
        - 2 * (ones @ K @ L @ ones) / (n - 2)
    return term / (n * (n - 3))


def debiased_linear_cka(X, Y) -> float:
    X, Y = _centre(X), _centre(Y)
    K, L = X @ X.T, Y @ Y.T
    return float(_unbiased_hsic(K, L) / np.sqrt(_unbiased_hsic(K, K) * _unbiased_hsic(L, L)))


def _grams_cka(X, Y) -> tuple[float, float]:
    grams = Grams(len(X))
    grams.add("x", X), grams.add("y", Y)
    biased, debiased, _, _ = grams.matrices(n_permutations=1)
    return biased[0, 1], debiased[0, 1]


@pytest.fixture
def reference():
    np.random.seed(1337)
    X = np.random.randn(100, 10)
    Y = np.random.randn(100, 10) + X
    return X, Y


def test_cka_reference_values(reference):
    X, Y = reference
    assert round(linear_cka(X, Y), 5) == 0.55761
    assert round(debiased_linear_cka(X, Y), 5) == 0.51346
    biased, debiased = _grams_cka(X, Y)
    assert biased == pytest.approx(0.55761, abs=1e-5) and debiased == pytest.approx(0.51346, abs=1e-5)


def test_cka_invariances(reference):
    X, Y = reference
    Q = ortho_group.rvs(10, random_state=0)
    assert linear_cka(X, X) == pytest.approx(1.0)
    assert linear_cka(X @ Q * 3.7, Y) == pytest.approx(linear_cka(X, Y))
    assert linear_cka(X + 5.0, Y) == pytest.approx(linear_cka(X, Y))  # centring


def test_independent_data_has_low_debiased_cka():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(200, 50)), rng.normal(size=(200, 50))
    assert abs(debiased_linear_cka(X, Y)) < 0.05 < linear_cka(X, Y)
    biased, debiased = _grams_cka(X, Y)
    assert abs(debiased) < 0.05 < biased


def _features(data, model, ids=None):
    """A features assembly: {layer: (stimuli, columns)} side by side, in depth order."""
    layers = list(data)
    n = len(next(iter(data.values())))
    ids = ids if ids is not None else [f"s{i:03d}" for i in range(n)]
    da = xr.DataArray(np.concatenate([data[k] for k in layers], axis=1), dims=("presentation", "neuroid"),
                      coords={"stimulus_id": ("presentation", list(ids)),
                              "layer": ("neuroid", sum(([k] * data[k].shape[1] for k in layers), []))},
                      name="activations", attrs={"model": model, "layers": ",".join(layers), "projected_layers": ""})
    return da


def _network(rng, n, x, widths=(40, 30, 20)):
    """Layers that each transform the previous one (so layer i of two seeds is most alike)."""
    out, h = {}, x
    for i, w in enumerate(widths):
        h = np.tanh(h @ rng.normal(size=(h.shape[1], w)) / np.sqrt(h.shape[1])) + 0.3 * rng.normal(size=(n, w))
        out[f"l{i + 1}"] = h
    return out


def _write(tmp_path, models: dict) -> list:
    paths = []
    for name, (data, ids) in models.items():
        paths.append(tmp_path / (name.replace("/", "_") + ".nc"))
        write_netcdf(_features(data, name, ids), paths[-1])
    return paths


def test_grams_give_the_reference_cka_values():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(60, 30)), rng.normal(size=(60, 12))
    Y[:, :5] += X[:, :5]
    grams = Grams(60)
    grams.add("x", X), grams.add("y", Y)
    biased, debiased, _, _ = grams.matrices(n_permutations=20)
    assert biased[0, 1] == pytest.approx(linear_cka(X, Y), rel=1e-5)
    assert debiased[0, 1] == pytest.approx(debiased_linear_cka(X, Y), rel=1e-6)  # float32 Gram products
    assert debiased[0, 0] == pytest.approx(1.0)
    assert np.allclose(u_centre(X @ X.T).sum(axis=0), 0)  # U-centred: rows sum to 0


def test_debiased_cka_and_its_null_are_near_zero_on_independent_wide_features():
    # Independent isotropic features, many more units than stimuli: biased CKA is far from 0.
    rng = np.random.default_rng(1)
    n, width = 200, 2000
    grams = Grams(n)
    for k in range(4):
        grams.add(k, rng.normal(size=(n, width)))
    biased, debiased, null_mean, null_p95 = grams.matrices(n_permutations=100)
    off = ~np.eye(4, dtype=bool)
    assert (biased[off] > 0.8).all()
    assert (np.abs(debiased[off]) < 0.05).all() and (np.abs(null_mean) < 0.05).all()
    assert (null_p95[off] > 0).all() and (null_p95[off] < 0.05).all()


@pytest.fixture
def nets(tmp_path):
    """Two architectures x 3 seeds over 80 stimuli: seeds of one architecture share its
    weights' statistics, architectures differ; one file's rows in another order."""
    rng = np.random.default_rng(2)
    n = 80
    x = rng.normal(size=(n, 25))
    models = {}
    for arch, widths in (("deep", (40, 30, 20)), ("flat", (35, 10))):
        base = np.random.default_rng(hash(arch) % 1000)
        proto = _network(base, n, x, widths)
        for seed in range(3):
            data = {k: v @ np.linalg.qr(rng.normal(size=(v.shape[1], v.shape[1])))[0] + 0.5 * rng.normal(size=v.shape)
                    for k, v in proto.items()}
            models[f"{arch}/supervised_seed{seed}"] = (data, None)
    return tmp_path, models


def test_similarity_table_has_every_pair_with_nulls_and_pixels(nets):
    tmp_path, models = nets
    paths = _write(tmp_path, models)
    pixels = xr.DataArray(np.random.default_rng(3).uniform(size=(80, 6, 6, 3)).astype(np.float32),
                          dims=("presentation", "y", "x", "channel"),
                          coords={"stimulus_id": ("presentation", [f"s{i:03d}" for i in range(80)])})
    sim = similarity_table(paths, stimuli=pixels, n_permutations=50)
    # 6 models: 15 pairs of models, 3 x 3, 3 x 2 or 2 x 2 layer pairs; plus pixels with 6 models.
    assert len(sim) == 3 * 9 + 9 * 6 + 3 * 4 + 3 * 3 + 3 * 2
    assert set(sim["comparison"]) == {"cross_seed", "cross_arch", "pixels"}
    assert sim["null_mean"].abs().max() < 0.05 and (sim["null_p95"] > 0).all()
    # A layer's counterpart in another seed beats the null by far.
    same = sim[(sim["comparison"] == "cross_seed") & (sim["layer_a"] == sim["layer_b"])]
    assert (same["cka_debiased"] > same["null_p95"] + 0.2).all()


def test_a_permuted_copy_of_a_file_gives_the_same_numbers(nets):
    tmp_path, models = nets
    paths = _write(tmp_path, models)
    sim = similarity_table(paths, n_permutations=30)
    order = np.random.default_rng(4).permutation(80)
    name = "flat/supervised_seed1"
    data, _ = models[name]
    write_netcdf(_features({k: v[order] for k, v in data.items()}, name, [f"s{i:03d}" for i in order]),
                 tmp_path / "flat_supervised_seed1.nc")
    permuted = similarity_table(paths, n_permutations=30)
    cols = ["cka", "cka_debiased", "null_mean", "null_p95"]
    np.testing.assert_allclose(permuted[cols].values, sim[cols].values, rtol=1e-5, atol=1e-6)


def test_files_of_other_stimuli_are_refused_by_name(nets):
    tmp_path, models = nets
    paths = _write(tmp_path, models)
    data, _ = models["deep/supervised_seed2"]
    write_netcdf(_features({k: v[:70] for k, v in data.items()}, "deep/supervised_seed2"), tmp_path / "short.nc")
    with pytest.raises(InputError, match="short.nc: lacks 10 stimuli"):
        similarity_table([paths[0], tmp_path / "short.nc"])


def test_correspondence_of_a_network_with_itself_is_one(tmp_path):
    rng = np.random.default_rng(5)
    data = _network(rng, 60, rng.normal(size=(60, 20)), (30, 30, 30, 30))
    paths = _write(tmp_path, {f"net/supervised_seed{s}": (data, None) for s in range(2)})
    table = correspondence(similarity_table(paths, n_permutations=20))
    assert len(table) == 1 and table["fraction_corresponding"].iloc[0] == 1.0
    assert table["best_match"].iloc[0] == "l1,l2,l3,l4"
    assert layer_correspondence([[1, 0.5], [0.9, 0.2]]) == 0.5  # layer 2 prefers layer 1 both ways


def test_summary_separates_seeds_from_architectures(nets):
    tmp_path, models = nets
    sim = similarity_table(_write(tmp_path, models), n_permutations=30)
    summary = similarity_summary(sim)
    assert set(summary["arch"]) == {"deep", "flat"} and "mean" in set(summary["layer"])
    deep = summary[summary["arch"] == "deep"].set_index("layer")
    assert list(deep["other_layer"]) == ["l1", "l2", "l2", "mean"]  # matched relative depth (ties: deeper)
    mean = deep.loc["mean"]
    assert mean["cross_seed"] > mean["cross_arch"] and mean["difference_low"] > 0
    assert mean["cross_seed_low"] <= mean["cross_seed"] <= mean["cross_seed_high"]
    assert deep["n_seed_pairs"].iloc[0] == 3 and deep["n_arch_pairs"].iloc[0] == 9


def test_summary_sets_the_gap_against_the_untrained_networks_gap(nets):
    tmp_path, models = nets
    rng = np.random.default_rng(5)
    x = rng.normal(size=(80, 25))
    for arch, widths in (("deep", (40, 30, 20)), ("flat", (35, 10))):
        for seed in range(3):  # untrained: every seed its own random weights, no shared prototype
            models[f"{arch}/untrained_seed{seed}"] = (_network(rng, 80, x, widths), None)
    sim = similarity_table(_write(tmp_path, models), n_permutations=10, image_groups=8)
    assert [c for c in sim.columns if c.startswith("cka_drop_images_")] == [f"cka_drop_images_{g}" for g in range(8)]
    summary = similarity_summary(sim)
    trained = summary[summary["task"] == "supervised"].set_index(["arch", "layer"])
    mean = trained.loc[("deep", "mean")]
    assert mean["difference_vs_untrained"] == pytest.approx(mean["difference"] - mean["untrained_gap"])
    assert mean["difference_vs_untrained_low"] <= mean["difference_vs_untrained"] <= mean["difference_vs_untrained_high"]
    assert mean["difference_vs_untrained_low"] > 0  # seeds of a trained prototype agree; random seeds do not
    assert "images (delete-a-group jackknife, 8 groups)" in mean["resampling"]
    assert summary.loc[summary["task"] == "untrained", "difference_vs_untrained"].isna().all()
    # images enter: the interval is wider than the networks-only one of a table without them
    fixed = similarity_summary(sim.drop(columns=[f"cka_drop_images_{g}" for g in range(8)]))
    fixed = fixed[fixed["task"] == "supervised"].set_index(["arch", "layer"]).loc[("deep", "mean")]
    assert fixed["resampling"].endswith("images fixed")
    assert mean["difference_high"] - mean["difference_low"] > fixed["difference_high"] - fixed["difference_low"]


def test_image_jackknife_leaves_out_each_group_once():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(40, 12)), rng.normal(size=(40, 9))
    Y[:, :4] += X[:, :4]
    grams = Grams(40)
    grams.add("x", X), grams.add("y", Y)
    drops = grams.image_jackknife(groups=5, seed=0)
    group = np.random.default_rng([0, 1]).permutation(40) % 5
    for g in range(5):
        keep = group != g
        assert drops[g, 0, 1] == pytest.approx(debiased_linear_cka(X[keep], Y[keep]), rel=1e-5)


def test_similarity_command_writes_three_tables(nets):
    tmp_path, models = nets
    paths = _write(tmp_path, models)
    out = {k: tmp_path / f"{k}.csv" for k in ("sim", "summary", "corr")}
    assert main(["similarity", "--features", *map(str, paths), "--permutations", "20",
                 "--out", str(out["sim"]), "--summary", str(out["summary"]), "--correspondence", str(out["corr"])]) == 0
    assert len(pd.read_csv(out["sim"])) == 3 * 9 + 9 * 6 + 3 * 4
    assert set(pd.read_csv(out["corr"])["arch"]) == {"deep", "flat"}
    assert len(pd.read_csv(out["summary"])) == (3 + 1) + (2 + 1)  # per layer and "mean", each way


def test_many_stimuli_are_subsampled_alike_in_every_file(nets):
    tmp_path, models = nets
    paths = _write(tmp_path, models)
    sim = similarity_table(paths[:2], n_permutations=20, max_stimuli=50)
    assert (sim["n_stimuli"] == 50).all()
    same = sim[sim["layer_a"] == sim["layer_b"]]
    assert (same["cka_debiased"] > same["null_p95"]).all()  # the same stimuli in both files


def test_the_difference_interval_leaves_out_networks_and_covers():
    # Pairs share networks: the interval must resample seeds, not pairs. Seeded simulation of
    # known truth (benchmarks/similarity_coverage.py runs the full count); the jackknife is
    # conservative, so at least 95% with 3 and with 10 seeds per architecture.
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import similarity_coverage

    assert similarity_coverage.coverage(3, datasets=300) >= 0.95
    assert similarity_coverage.coverage(10, datasets=300) >= 0.93
    # Features of networks on images drawn afresh: images matter as well as seeds. The intervals
    # over networks and images cover the gap and the trained - untrained gap; networks alone do not.
    three, five = similarity_coverage.image_coverage(3, 150), similarity_coverage.image_coverage(5, 100)
    assert min(three["gap"], three["difference_vs_untrained"], five["gap"], five["difference_vs_untrained"]) >= 0.95
    assert five["gap_images_fixed"] < 0.9
