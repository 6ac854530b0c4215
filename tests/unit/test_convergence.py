import numpy as np
import pytest

import pandas as pd

from goaldriven.cli import main
from goaldriven.compare.convergence import (channel_responses, cross_seed_predictivity, match_units, matching_table,
                                            unit_examples)
from goaldriven.core.io import InputError, write_netcdf


def test_match_units_recovers_a_permuted_rescaled_copy():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(200, 40))
    perm = rng.permutation(40)
    B = A[:, perm] * rng.uniform(0.5, 3, 40) + rng.normal(size=40)
    m = match_units(A, B, n_permutations=19)
    mapping = dict(map(tuple, m["pairs"]))
    assert all(perm[mapping[i]] == i for i in range(40))  # unit i of A found where it went in B
    np.testing.assert_allclose(m["correlation"], 1.0)
    assert m["convergent"].all() and (m["chance"] < 0.5).all()


def test_independent_units_are_mostly_not_convergent_and_constant_units_are_safe():
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(300, 30)), rng.normal(size=(300, 30))
    B[:, 0] = 1.0  # a dead unit
    m = match_units(A, B, n_permutations=20)
    assert m["convergent"].mean() < 0.2
    assert np.isfinite(m["correlation"]).all()


def test_cross_seed_predictivity_of_a_linear_copy_is_high():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 20))
    assert np.median(cross_seed_predictivity(X, X @ rng.normal(size=(20, 10)))) > 0.95
    assert abs(np.median(cross_seed_predictivity(X, rng.normal(size=(150, 10))))) < 0.2


# ----------------------------------------------------------------------------- channels
def _features(data, model, layers, shapes=None, ids=None):
    """A features assembly as the features stage writes it: {layer: (stimuli, columns)} side by side."""
    import xarray as xr

    ids = ids if ids is not None else [f"s{i:03d}" for i in range(len(next(iter(data.values()))))]
    names = sum(([layer] * data[layer].shape[1] for layer in layers), [])
    nums = sum((list(range(data[layer].shape[1])) for layer in layers), [])
    da = xr.DataArray(np.concatenate([data[layer] for layer in layers], axis=1), dims=("presentation", "neuroid"),
                      coords={"stimulus_id": ("presentation", ids),
                              "layer": ("neuroid", names), "neuroid_num": ("neuroid", nums)}, name="activations")
    da.attrs.update({"model": model, "layers": ",".join(layers), "projected_layers": ""})
    da.attrs.update({f"shape_{layer}": ",".join(map(str, s)) for layer, s in (shapes or {}).items()})
    return da


def test_channel_responses_put_one_channel_per_column_and_positions_together():
    X = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2)  # stimuli, channels, y, x
    U = channel_responses(X.reshape(2, -1), (3, 2, 2))
    assert U.shape == (8, 3)
    for s, c, y, x in np.ndindex(X.shape):
        assert U[s * 4 + y * 2 + x, c] == X[s, c, y, x]


def test_channel_matching_recovers_a_permutation_of_channels():
    rng = np.random.default_rng(3)
    conv = rng.gamma(1.0, size=(120, 12, 5, 5))  # stimuli, channels, y, x
    perm = rng.permutation(12)
    copy = conv[:, perm] * rng.uniform(0.5, 2, (1, 12, 1, 1))  # channel order shuffled, rescaled
    m = match_units(channel_responses(conv.reshape(120, -1), (12, 5, 5)),
                    channel_responses(copy.reshape(120, -1), (12, 5, 5)), n_permutations=19, positions=25)
    assert all(perm[b] == a for a, b in m["pairs"])
    np.testing.assert_allclose(m["correlation"], 1.0)
    assert m["convergent"].all()


def test_a_shared_spatial_layout_alone_is_not_channel_convergence():
    # Every channel of both seeds is the same bump in space plus independent noise: channels
    # correlate over positions, but no stimulus drives them alike. Shuffling whole stimuli keeps
    # the layout in the null, so few pairs beat chance.
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:6, :6]
    bump = np.exp(-((yy - 2.5) ** 2 + (xx - 2.5) ** 2) / 4)
    a, b = (channel_responses((bump + 0.25 * rng.normal(size=(150, 16, 6, 6))).reshape(150, -1), (16, 6, 6))
            for _ in range(2))
    m = match_units(a, b, n_permutations=20, positions=36)
    assert m["correlation"].mean() > 0.3  # the layout alone makes channels look alike ...
    assert m["convergent"].mean() < 0.2   # ... but that is chance
    # Shuffling single rows instead would break the layout and call it convergence.
    assert match_units(a, b, n_permutations=20)["convergent"].mean() > 0.8


def test_matching_table_matches_channels_where_the_shape_is_recorded(tmp_path, caplog):
    rng = np.random.default_rng(5)
    conv = rng.gamma(1.0, size=(100, 6, 4, 4))
    fc = rng.normal(size=(100, 10))
    paths = []
    for seed in range(2):
        perm = rng.permutation(6) if seed else np.arange(6)
        data = {"conv": conv[:, perm].reshape(100, -1), "fc": fc[:, rng.permutation(10)],
                "noshape": conv.reshape(100, -1)[:, :20]}
        paths.append(tmp_path / f"seed{seed}.nc")
        write_netcdf(_features(data, f"net/supervised_seed{seed}", ["conv", "fc", "noshape"],
                               shapes={"conv": (6, 4, 4), "fc": (10,)}), paths[-1])
    with caplog.at_level("WARNING"):
        table = matching_table(paths, max_units=128, n_permutations=19, unit="channel").set_index("layer")
    assert table.loc["conv", "unit"] == "channel" and table.loc["conv", "n_units"] == 6
    assert table.loc["fc", "unit"] == "channel" and table.loc["fc", "n_units"] == 10  # a flat layer: 1 position
    assert table.loc["noshape", "unit"] == "column" and "no shape_noshape attribute" in caplog.text
    np.testing.assert_allclose(table.loc[["conv", "fc", "noshape"], "matched_r"], 1.0)
    columns = matching_table(paths, max_units=128, n_permutations=19, unit="column").set_index("layer")
    assert (columns["unit"] == "column").all() and columns.loc["conv", "n_units"] == 96


def test_a_shape_that_does_not_fit_the_layer_is_an_input_error(tmp_path):
    path = tmp_path / "bad.nc"
    da = _features({"conv": np.ones((10, 12))}, "net/supervised_seed0", ["conv"], shapes={"conv": (5, 2, 2)})
    write_netcdf(da, path)
    with pytest.raises(InputError, match=r"bad\.nc: attribute shape_conv='5,2,2'"):
        matching_table([path, path], unit="channel")


# ----------------------------------------------------------------------------- unit examples
def _example_pair(n=200, seed=6):
    """Seed a: 5 units that seed b shares (unit 0 exactly, others with growing noise) and a
    noise unit; seed b holds them in another order, its stimuli in another order too."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, 5))
    a = np.column_stack([signal, rng.normal(size=n)])
    b = np.column_stack([signal + rng.normal(size=(n, 5)) * [0, 0.3, 0.5, 0.7, 0.9], rng.normal(size=n)])
    perm, order = rng.permutation(6), rng.permutation(n)
    ids = np.array([f"s{i:03d}" for i in range(n)])
    return (_features({"fc": a}, "net/supervised_seed0", ["fc"]),
            _features({"fc": b[order][:, perm]}, "net/supervised_seed1", ["fc"], ids=ids[order]), perm)


def test_unit_examples_find_the_shared_unit_and_the_noise_unit():
    fa, fb, perm = _example_pair()
    table = unit_examples(fa, fb, "fc", n_units=1, k=4, unit="column")
    assert len(table) == 16 and set(table["kind"]) == {"most", "least", "most_active", "least_active"}
    most, least = (table[table["kind"] == k].iloc[0] for k in ("most", "least"))
    assert most["unit_a"] == 0 and perm[most["unit_b"]] == 0 and most["r"] == pytest.approx(1.0)
    assert least["unit_a"] == 5 and perm[least["unit_b"]] == 5 and abs(least["r"]) < 0.3
    # The shared unit's top images are the same stimuli in both seeds, strongest first.
    top = table[table["kind"] == "most"]
    expected = fa["stimulus_id"].values[np.argsort(-fa.values[:, 0])[:4]]
    assert list(top["stimulus_id_a"]) == list(top["stimulus_id_b"]) == list(expected)
    assert list(top["image_rank"]) == [1, 2, 3, 4] and top["drive_a"].is_monotonic_decreasing


def test_unit_examples_rank_units_and_skip_dead_ones():
    fa, fb, perm = _example_pair()
    fb = fb.copy(data=fb.values.copy())
    dead = int(np.flatnonzero(perm == 4)[0])  # seed b's copy of a unit: now silent
    fb.values[:, dead] = 0.0
    table = unit_examples(fa, fb, "fc", n_units=2, k=3, unit="column")
    pairs = table.drop_duplicates(["kind", "rank"])
    assert dead not in set(table["unit_b"]) and len(pairs) == 8
    assert list(pairs[pairs["kind"] == "most"]["unit_a"]) == [0, 1]   # least noise first
    assert list(pairs[pairs["kind"] == "least"]["unit_a"]) == [5, 3]  # least convergent first


def test_unit_examples_of_channels_use_the_mean_over_positions(tmp_path):
    rng = np.random.default_rng(7)
    conv = rng.gamma(1.0, size=(60, 4, 3, 3))
    other = conv.copy()  # seed b's channel 3 is another channel altogether
    other[:, 3] = rng.gamma(1.0, size=(60, 3, 3))
    fa = _features({"c": conv.reshape(60, -1)}, "net/supervised_seed0", ["c"], shapes={"c": (4, 3, 3)})
    fb = _features({"c": other.reshape(60, -1)}, "net/supervised_seed1", ["c"], shapes={"c": (4, 3, 3)})
    table = unit_examples(fa, fb, "c", n_units=1, k=2, unit="channel")
    least = table[table["kind"] == "least"].iloc[0]
    assert (table["unit_type"] == "channel").all() and least["unit_a"] == 3
    assert least["drive_a"] == pytest.approx(conv[:, 3].mean(axis=(1, 2)).max())


def test_unit_examples_refuse_other_stimuli_and_missing_layers(tmp_path):
    fa, fb, _ = _example_pair()
    path = tmp_path / "b.nc"
    write_netcdf(fb.isel(presentation=slice(0, 150)), path)
    with pytest.raises(InputError, match=r"b\.nc: lacks 50 stimuli"):
        unit_examples(fa, path, "fc")
    with pytest.raises(InputError, match="no layer 'conv9'"):
        unit_examples(fa, fb, "conv9")


def test_unit_examples_command_writes_the_table(tmp_path):
    fa, fb, _ = _example_pair()
    write_netcdf(fa, tmp_path / "a.nc")
    write_netcdf(fb, tmp_path / "b.nc")
    out = tmp_path / "examples.csv"
    assert main(["unit-examples", "--features", str(tmp_path / "a.nc"), str(tmp_path / "b.nc"), "--layer", "fc",
                 "--n-units", "2", "--top-k", "3", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 24 and table["model_b"].iloc[0] == "net/supervised_seed1"


# ----------------------------------------------------------------------------- null and true channels
def test_matching_calls_about_5_percent_of_channels_convergent_under_independent_seeds(tmp_path):
    # Seeds 1 and 2 are seed 0 with its images shuffled: independent seeds, same statistics.
    rng = np.random.default_rng(8)
    n, shapes = 150, {"conv_a": (64, 3, 3), "conv_b": (96, 2, 2), "fc": (128,)}
    layers = {name: rng.gamma(1.0, size=(n, int(np.prod(s)))) for name, s in shapes.items()}
    paths = []
    for seed in range(3):
        order = np.arange(n) if seed == 0 else rng.permutation(n)
        paths.append(tmp_path / f"seed{seed}.nc")
        write_netcdf(_features({k: v[order] for k, v in layers.items()}, f"net/supervised_seed{seed}",
                               list(shapes), shapes=shapes), paths[-1])
    table = matching_table(paths, max_units=256, n_permutations=19, unit="channel")
    per_layer = table.groupby("layer")["frac_convergent"].mean()
    assert (per_layer <= 0.08).all(), per_layer
    assert 0.01 <= table["frac_convergent"].mean() <= 0.08
    # the chance on images (matched on one half, tested on the other): also about 5%, r near 0
    assert table["frac_convergent_images"].mean() <= 0.08 and table["matched_r_held_out"].abs().max() < 0.1
    assert table["chance"].str.contains("held-out stimuli drawn with replacement").all()
    assert table.set_index("layer")["n_units"].to_dict() == {"conv_a": 64, "conv_b": 96, "fc": 128}


def test_matching_counts_a_networks_real_channels(tmp_path):
    # AlexNet's conv5 ends in adaptive pooling + flatten: its columns are channels x 2 x 2, and
    # matching must find its 24 channels (width 0.25), not 96 "channels".
    import torch

    from goaldriven.models.features import FeatureSpec, extract_to_netcdf
    from goaldriven.models.zoo import build_model
    from goaldriven.data.synthetic import generate_stimulus_set
    from goaldriven.models.train import TrainConfig, save_weights

    stimuli = generate_stimulus_set(seed=0, split="test", images_per_variation={0: 1, 3: 1, 6: 1}, size=32,
                                    objects_per_category=1)
    cats = stimuli.attrs["categories"].split(",")
    paths = []
    for seed in range(2):
        torch.manual_seed(seed)
        model = build_model("alexnet", len(cats), 0.25)
        weights = save_weights(model, tmp_path / f"w{seed}.safetensors",
                               TrainConfig("alexnet", seed, 0, task="untrained", width=0.25), cats,
                               input_size=32) or tmp_path / f"w{seed}.safetensors"
        paths.append(extract_to_netcdf(weights, stimuli, tmp_path / f"f{seed}.nc", f"alexnet/untrained_seed{seed}",
                                       spec=FeatureSpec(reduction="none"), progress=False))
    table = matching_table(paths, max_units=8, n_permutations=19, unit="channel").set_index("layer")
    model = build_model("alexnet", len(cats), 0.25)
    conv_channels = {name: [m for m in stage.modules() if isinstance(m, torch.nn.Conv2d)][-1].out_channels
                     for name, stage in model.stages.items() if name.startswith("conv")}
    assert table.loc[list(conv_channels), "n_units"].to_dict() == conv_channels
    assert conv_channels["conv5"] == 24 and (table.loc[list(conv_channels), "unit"] == "channel").all()
    assert (table["n_matched"] == np.minimum(table["n_units"], 8)).all()  # a subsample of seed a, all of b


# ----------------------------------------------------------------------------- chance on images, trained vs untrained
def test_held_out_matching_calls_5_percent_of_independent_units_and_finds_copies():
    # Seeded and small (benchmarks/matching_chance.py runs the full count: about 0.04 for columns
    # and channels, 0.5 with half the units copied).
    import sys

    from workflow_helpers import REPO

    sys.path.insert(0, str(REPO / "benchmarks"))
    import matching_chance

    assert matching_chance.false_positives(30, seed=1) <= 0.08
    assert matching_chance.false_positives(10, positions=4, seed=1) <= 0.08
    assert 0.45 <= matching_chance.false_positives(5, shared=0.5, seed=1) <= 0.6
    assert matching_chance.summary_coverage(100, 3, seed=1) >= 0.95


def _matching_rows(task, mean, seeds=3, seed=0):
    rng = np.random.default_rng(seed)
    return [{"arch": "net", "task": task, "layer": layer, "layer_index": i, "seed_a": a, "seed_b": b,
             **{m: mean + rng.normal(0, 0.01) for m in ("frac_convergent", "matched_r", "frac_convergent_images",
                                                         "matched_r_held_out")}, "chance": "as described"}
            for i, layer in enumerate(("l1", "l2")) for a in range(seeds) for b in range(a + 1, seeds)]


def test_matching_summary_sets_trained_beside_untrained(tmp_path):
    from goaldriven.compare.convergence import matching_summary

    tables = [pd.DataFrame(_matching_rows("supervised", 0.6)), pd.DataFrame(_matching_rows("untrained", 0.2, seed=1))]
    summary = matching_summary(tables).set_index("layer")
    assert list(summary.index) == ["l1", "l2", "mean"] and (summary["untrained_task"] == "untrained").all()
    row = summary.loc["mean"]
    assert row["frac_convergent_difference"] == pytest.approx(row["frac_convergent_trained"]
                                                              - row["frac_convergent_untrained"])
    assert 0.3 < row["frac_convergent_difference_low"] < 0.4 < row["frac_convergent_difference_high"] < 0.5
    assert "delete-one jackknife" in row["resampling"] and row["chance"] == "as described"
    two = matching_summary([pd.DataFrame(_matching_rows(t, v, seeds=2)) for t, v in (("supervised", 0.6),
                                                                                    ("untrained", 0.2))])
    assert two["matched_r_difference_low"].isna().all()  # 2 seeds: no pair left to leave a seed out
    for i, t in enumerate(tables):
        t.to_csv(tmp_path / f"{i}.csv", index=False)
    assert main(["matching-summary", "--tables", str(tmp_path / "0.csv"), str(tmp_path / "1.csv"),
                 "--out", str(tmp_path / "s.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "s.csv")) == 3
    with pytest.raises(InputError, match="no trained task with its untrained control"):
        matching_summary(tables[:1])
