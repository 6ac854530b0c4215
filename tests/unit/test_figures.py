"""Every figure is drawn from small synthetic tables: PNG + PDF written, errors name the file."""

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from builders import check_outputs, positive_control_csv
import xarray as xr

from goaldriven.study import figures
from goaldriven.study.figures import FIGURES, input_names
from goaldriven.core.io import InputError


def make(name, files, out_png, data_label=""):
    """figures.make with the files in the order of the figure's inputs (input_names)."""
    names = input_names(name) if name in FIGURES else {}
    if "several" in names.values():
        inputs = {next(iter(names)): list(files)}
    else:
        inputs = dict(zip(names, files))
    figures.make(name, inputs, out_png, data_label=data_label)


LAYERS = {"hmo": ["layer1", "layer2", "layer3", "layer4"], "alexnet": ["conv1", "conv2", "conv3", "fc6", "fc7"]}
TASKS = ("supervised", "untrained")
CATS = ("animals", "boats", "cars")


def _per_layer(value_name, seeds, rng):
    """Rows per (arch, task, seed, layer, region) with a plausible depth profile plus seed noise."""
    rows = []
    for arch, layers in LAYERS.items():
        for task in TASKS:
            for seed in seeds:
                for i, layer in enumerate(layers):
                    for region, peak in (("V4", 0.4), ("IT", 1.0)):
                        depth = i / (len(layers) - 1)
                        gain = 0.8 if task == "supervised" else 0.45
                        v = gain * (1 - (depth - peak) ** 2) + rng.normal(0, 0.02)
                        rows.append({"model": f"{arch}/{task}_seed{seed}", "arch": arch, "task": task,
                                     "seed": seed, "layer": layer, "layer_index": i, "region": region,
                                     value_name: v})
    return pd.DataFrame(rows)


def write_inputs(root, seeds=(0, 1, 2)):
    """Write one synthetic input set; returns {figure name: [input paths]}."""
    rng = np.random.default_rng(0)
    pred = _per_layer("ev_median", seeds, rng).assign(r_median=0.7)
    pred.to_csv(root / "predictivity.csv", index=False)

    models = pred.groupby(["model", "arch", "task", "seed"], as_index=False).agg(it_ev=("ev_median", "max"))
    models["v4_ev"] = models["it_ev"] - 0.05
    models["test_accuracy"] = np.where(models["task"] == "supervised", 0.8, 0.13) + rng.normal(0, 0.02, len(models))
    models.to_csv(root / "models.csv", index=False)

    _per_layer("rsa", seeds, rng).to_csv(root / "rsa.csv", index=False)

    _similarity(root, seeds, rng)

    stages = [f"stage{i + 1}" for i in range(5)]
    rec = [{"region": g, "layer": s, "layer_index": i, "ground_truth_layer": truth,
            "ev_median": 0.9 - 0.1 * abs(i - stages.index(truth))}
           for g, truth in (("V4", "stage3"), ("IT", "stage5")) for i, s in enumerate(stages)]
    rec[2]["ev_median"] = 0.5  # V4's true layer is not the best: the panel must say NOT recovered
    pd.DataFrame(rec).to_csv(root / "recovery.csv", index=False)

    n = 4 * len(CATS)
    cats = np.repeat(CATS, 4)
    feats = {"V4": rng.normal(size=(n, 20)), "IT": rng.normal(size=(n, 20)) + 3 * (cats[:, None] == CATS[0])}
    feats["hmo/supervised_seed0 · layer4"] = feats["IT"] + rng.normal(size=(n, 20))
    rdm = xr.DataArray(np.stack([1 - np.corrcoef(f) for f in feats.values()]),
                       dims=("source", "stimulus_a", "stimulus_b"),
                       coords={"source": list(feats), "category_name": ("stimulus_a", cats)}, name="rdm")
    rdm.to_netcdf(root / "rdms.nc", engine="netcdf4")

    matching = [{"arch": a, "task": t, "layer": layer, "layer_index": i, "seed_a": 0, "seed_b": 1,
                 "matched_r": 0.5, "chance_r": 0.1, "frac_convergent": 0.9, "cross_seed_r": 0.8}
                for a, layers in LAYERS.items() for t in TASKS for i, layer in enumerate(layers)]
    pd.DataFrame(matching).to_csv(root / "matching.csv", index=False)
    from goaldriven.study.seed_variance import seed_variance

    seed_variance(models.assign(it_ev_retest_diff=0.01)).to_csv(root / "seed_variance.csv", index=False) \
        if len(seeds) > 1 else pd.DataFrame([{"task": t, "metric": m, "n_archs": 2, "n_seeds": 1, "share_fixed": 0.3,
                                              "share_fixed_low": 0.1, "share_fixed_high": 0.5, "n_pairs": 1,
                                              "n_pairs_robust": 0} for t in TASKS for m in ("v4_ev", "it_ev")]
                                            ).to_csv(root / "seed_variance.csv", index=False)
    return {"layer_profiles": [root / "predictivity.csv"], "performance_vs_it": [root / "models.csv"],
            "rsa": [root / "rsa.csv", root / "rdms.nc"], "cka": [root / "similarity.csv"],
            "correspondence": [root / "similarity.csv"],
            "recovery": [root / "recovery.csv"], "matching": [root / "matching.csv"],
            "seed_variance": [root / "models.csv", root / "seed_variance.csv"]}


def stimulus_set(n_per_cell=3, size=16):
    """Random-pixel stimulus set with the coordinates of the real one (3 categories x 3 levels)."""
    rng = np.random.default_rng(1)
    rows = [(c, f"{c}_{k % 2:02d}", v) for c in CATS for v in (0, 3, 6) for k in range(n_per_cell)]
    n = len(rows)
    coords = {"stimulus_id": ("presentation", [f"s{i:04d}" for i in range(n)]),
              "category_name": ("presentation", [r[0] for r in rows]),
              "object_name": ("presentation", [r[1] for r in rows]),
              "variation": ("presentation", [r[2] for r in rows])}
    coords.update({c: ("presentation", rng.uniform(-1, 1, n)) for c in ("rxy", "rxz", "ryz", "ty", "tz", "s")})
    return xr.DataArray(rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
                        dims=("presentation", "y", "x", "channel"), coords=coords, name="pixels")


def _similarity(root, seeds, rng, n=30):
    """similarity.csv of goaldriven.compare.similarity for random networks of LAYERS (each layer a noisy
    transform of the one before; seeds of an architecture share its transforms)."""
    from goaldriven.core.io import write_netcdf
    from goaldriven.compare.similarity import similarity_table

    x, paths = rng.normal(size=(n, 12)), []
    for a, layers in LAYERS.items():
        weights = [np.random.default_rng(len(a) + i).normal(size=(12, 12)) for i in range(len(layers))]
        for t in TASKS:
            for seed in seeds:
                h, data = x, []
                for w in weights:
                    h = np.tanh(h @ w / 3.5) + 0.3 * rng.normal(size=h.shape)
                    data.append(h)
                da = xr.DataArray(np.concatenate(data, axis=1), dims=("presentation", "neuroid"),
                                  coords={"stimulus_id": ("presentation", [f"s{i}" for i in range(n)]),
                                          "layer": ("neuroid", np.repeat(layers, 12))}, name="activations",
                                  attrs={"model": f"{a}/{t}_seed{seed}", "layers": ",".join(layers)})
                paths.append(root / f"{a}_{t}_{seed}.nc")
                write_netcdf(da, paths[-1])
    similarity_table(paths, n_permutations=20).to_csv(root / "similarity.csv", index=False)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return write_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.mark.parametrize("name", ["layer_profiles", "performance_vs_it", "rsa", "cka", "correspondence", "recovery",
                                  "matching", "seed_variance"])
def test_every_table_figure_writes_png_and_pdf(inputs, tmp_path, name):
    out = tmp_path / f"{name}.png"
    make(name, inputs[name], out, data_label="simulated recordings")
    check_outputs(out)
    again = tmp_path / f"again_{name}.png"  # the same tables draw the same figure, byte for byte
    make(name, inputs[name], again, data_label="simulated recordings")
    assert again.read_bytes() == out.read_bytes()


def test_montage_from_dataarray_and_from_file(tmp_path, tiny_sets):
    figures.plot_montage(stimulus_set(), tmp_path / "m.png", "simulated recordings")
    check_outputs(tmp_path / "m.png")
    make("montage", [tiny_sets["test"]], tmp_path / "m2.png", data_label="simulated recordings")
    check_outputs(tmp_path / "m2.png")


def test_montage_missing_coordinate_raises():
    with pytest.raises(InputError, match="variation"):
        figures.plot_montage(stimulus_set().drop_vars("variation"), "unused.png", "x")


def test_single_seed_and_nan_values_still_plot(tmp_path):
    paths = write_inputs(tmp_path, seeds=(0,))
    df = pd.read_csv(paths["layer_profiles"][0])
    df.loc[::5, "ev_median"] = np.nan
    df.to_csv(paths["layer_profiles"][0], index=False)
    var = pd.read_csv(paths["seed_variance"][1]).assign(share_fixed=np.nan)  # undefined with one seed
    var.to_csv(paths["seed_variance"][1], index=False)
    for name in ("layer_profiles", "rsa", "cka", "performance_vs_it", "seed_variance", "matching"):
        make(name, paths[name], tmp_path / f"{name}.png", data_label="one seed")
        check_outputs(tmp_path / f"{name}.png")


def test_functions_accept_dataframes(inputs, tmp_path):
    figures.plot_layer_profiles(pd.read_csv(inputs["layer_profiles"][0]), tmp_path / "lp.png", "x")
    check_outputs(tmp_path / "lp.png")


@pytest.mark.parametrize("name, column", [("layer_profiles", "ev_median"), ("performance_vs_it", "it_ev"),
                                          ("rsa", "rsa"), ("cka", "cka_debiased"), ("recovery", "ground_truth_layer")])
def test_missing_column_names_the_file_and_column(inputs, tmp_path, name, column):
    bad = tmp_path / "bad.csv"
    pd.read_csv(inputs[name][0]).drop(columns=column).to_csv(bad, index=False)
    with pytest.raises(InputError, match=rf"bad\.csv: missing column\(s\) \['{column}'\]"):
        make(name, [bad, *inputs[name][1:]], tmp_path / "x.png", data_label="x")
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "x.pdf").exists()


def test_all_nan_column_is_an_input_error(inputs, tmp_path):
    bad = tmp_path / "nan.csv"
    pd.read_csv(inputs["cka"][0]).assign(cka_debiased=np.nan).to_csv(bad, index=False)
    with pytest.raises(InputError, match="nan.csv: no rows"):
        figures.plot_cka(bad, tmp_path / "x.png", "x")


def test_rdms_with_wrong_dims_are_refused(inputs, tmp_path):
    bad = tmp_path / "bad_rdms.nc"
    xr.DataArray(np.zeros((2, 3)), dims=("a", "b"), name="rdm").to_netcdf(bad, engine="netcdf4")
    with pytest.raises(InputError, match="bad_rdms.nc: expected dims"):
        figures.plot_rsa(inputs["rsa"][0], bad, tmp_path / "x.png", "x")


def test_performance_vs_it_with_too_few_models(tmp_path):
    df = pd.DataFrame({"model": ["a", "b"], "arch": ["hmo", "alexnet"], "task": ["supervised"] * 2,
                       "seed": [0, 0], "test_accuracy": [0.5, 0.7], "it_ev": [0.3, 0.4], "v4_ev": [0.2, 0.3]})
    figures.plot_performance_vs_it(df, tmp_path / "p.png", "x")
    check_outputs(tmp_path / "p.png")


def _trajectory_table(seeds=(0, 1, 2)):
    """The table of goaldriven trajectory: kept epochs 1, 2 and the final epoch 4 of trained
    models, epoch 0 of their untrained controls; predictivity rises with accuracy, plus noise."""
    rng = np.random.default_rng(2)
    rows = []
    for arch, layers in LAYERS.items():
        for task, epochs in (("supervised", (1, 2, 4)), ("untrained", (0,))):
            for seed in seeds:
                for epoch in epochs:
                    accuracy = 0.125 + 0.15 * epoch + rng.normal(0, 0.02)
                    for region, gain in (("V4", 0.3), ("IT", 0.6)):
                        rows.append({"model": f"{arch}/{task}_seed{seed}", "arch": arch, "task": task, "seed": seed,
                                     "epoch": epoch, "final": epoch == epochs[-1], "test_accuracy": accuracy,
                                     "region": region, "best_layer": layers[-1], "ceiling_normalised": True,
                                     "ev_median": gain * accuracy + rng.normal(0, 0.02)})
    return pd.DataFrame(rows)


def test_trajectory_figure_writes_png_and_pdf(tmp_path):
    _trajectory_table().to_csv(tmp_path / "trajectory.csv", index=False)
    make("trajectory", [tmp_path / "trajectory.csv"], tmp_path / "t.png", data_label="simulated recordings")
    check_outputs(tmp_path / "t.png")
    one_seed = _trajectory_table(seeds=(0,)).assign(ceiling_normalised=False)  # raw r², no spread
    figures.plot_trajectory(one_seed, tmp_path / "one.png", "one seed")
    check_outputs(tmp_path / "one.png")


def test_trajectory_figure_needs_it(tmp_path):
    _trajectory_table().query("region == 'V4'").to_csv(tmp_path / "v4.csv", index=False)
    with pytest.raises(InputError, match=r"v4\.csv: no IT rows"):
        figures.plot_trajectory(tmp_path / "v4.csv", tmp_path / "x.png", "x")
    assert not (tmp_path / "x.png").exists()


def test_figure_registry_and_unknown_name(tmp_path):
    assert {"montage", "layer_profiles", "performance_vs_it", "rsa", "cka", "recovery"} <= set(FIGURES)
    with pytest.raises(ValueError, match="unknown figure 'nope'"):
        make("nope", [], tmp_path / "x.png")


def test_inputs_are_named_and_checked(inputs, tmp_path):
    with pytest.raises(InputError, match=r"figure rsa: input\(s\) \['rdms_nc'\] not given"):
        figures.make("rsa", {"rsa_csv": inputs["rsa"][0]}, tmp_path / "x.png")
    with pytest.raises(InputError, match=r"unknown input\(s\) \['rdm'\]; it takes"):
        figures.make("cka", {"similarity_csv": inputs["cka"][0], "rdm": "x"}, tmp_path / "x.png")
    with pytest.raises(InputError, match="input similarity_csv takes one file, got 2"):
        figures.make("cka", {"similarity_csv": [inputs["cka"][0]] * 2}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_the_workflow_passes_every_figure_its_inputs_by_name():
    """The figure stages of the generated pipelines name exactly the inputs of goaldriven.study.figures."""
    import re

    import yaml

    from workflow_helpers import REPO

    for pipeline in ("dvc.yaml", "pipelines/smoke/dvc.yaml", "pipelines/real_cpu/dvc.yaml"):
        stages = yaml.safe_load((REPO / pipeline).read_text())["stages"]
        figures_seen = set()
        for stage in stages.values():
            if not stage["meta"]["rule"].startswith("figure_"):  # one rule per figure: figure_NAME
                continue
            name = stage["meta"]["rule"].removeprefix("figure_")
            given = re.findall(r"--input (\w+)=", stage["cmd"])
            names = input_names(name)
            assert set(given) <= set(names), (pipeline, name, given)
            assert {k for k, kind in names.items() if kind != "optional"} <= set(given), (pipeline, name, given)
            figures_seen.add(name)
        assert figures_seen, pipeline


def test_save_figure_writes_png_and_pdf(tmp_path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    figures.save_figure(fig, tmp_path / "sub" / "f.png")
    check_outputs(tmp_path / "sub" / "f.png", min_px=100)
    assert not plt.fignum_exists(fig.number)


def _unit_examples_table(stimulus_ids, tmp_path):
    """The table of goaldriven.compare.convergence.unit_examples for two synthetic seeds of one layer."""
    from goaldriven.compare.convergence import unit_examples

    rng = np.random.default_rng(0)
    a = rng.normal(size=(len(stimulus_ids), 8))
    b = a + rng.normal(size=a.shape) * np.linspace(0, 2, 8)  # unit 0 shared exactly, unit 7 barely
    feats = [xr.DataArray(x, dims=("presentation", "neuroid"),
                          coords={"stimulus_id": ("presentation", stimulus_ids), "layer": ("neuroid", ["fc"] * 8)},
                          attrs={"model": f"hmo/supervised_seed{i}", "layers": "fc"}) for i, x in enumerate((a, b))]
    path = tmp_path / "unit_examples.csv"
    unit_examples(*feats, "fc", n_units=2, k=4).to_csv(path, index=False)
    return path


def test_unit_examples_figure_shows_each_units_images(tmp_path, tiny_sets):
    from goaldriven.data.stimulus_sets import load_stimulus_set

    table = _unit_examples_table(load_stimulus_set(tiny_sets["test"])["stimulus_id"].values, tmp_path)
    make("unit_examples", [table, tiny_sets["test"]], tmp_path / "ue.png", data_label="simulated recordings")
    check_outputs(tmp_path / "ue.png")


def test_unit_examples_figure_refuses_unknown_stimuli_and_mixed_tables(tmp_path, tiny_sets):
    from goaldriven.data.stimulus_sets import load_stimulus_set

    ids = load_stimulus_set(tiny_sets["test"])["stimulus_id"].values
    table = _unit_examples_table(np.array([f"other{i}" for i in range(len(ids))]), tmp_path)
    with pytest.raises(InputError, match=r"test\.nc: no stimulus 'other\d+'"):
        make("unit_examples", [table, tiny_sets["test"]], tmp_path / "x.png", data_label="x")
    mixed = pd.read_csv(_unit_examples_table(ids, tmp_path))
    mixed.loc[0, "layer"] = "conv5"
    with pytest.raises(InputError, match="one layer and one pair of seeds"):
        figures.plot_unit_examples(mixed, tiny_sets["test"], tmp_path / "x.png", "x")
    assert not (tmp_path / "x.png").exists()


def test_performance_vs_it_resamples_architectures_not_seeds():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"arch": np.repeat(list("abcd"), 3), "perf": rng.uniform(40, 90, 12)})
    df["it"] = 0.005 * df["perf"] + rng.normal(0, 0.05, 12)
    ci = figures.arch_bootstrap_r(df, "perf", "it")
    assert ci["r"] == pytest.approx(np.corrcoef(df["perf"], df["it"])[0, 1]) and ci["n_archs"] == 4
    assert ci["low"] < ci["r"] < ci["high"] and ci == figures.arch_bootstrap_r(df, "perf", "it")  # seeded
    two = figures.arch_bootstrap_r(df[df["arch"] < "c"], "perf", "it")
    assert np.isfinite(two["r"]) and np.isnan(two["low"])  # two architectures: no interval over them


def test_performance_vs_it_returns_r_within_trained_models_with_its_interval_off_the_canvas(tmp_path):
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"arch": np.repeat(list("abcd"), 6), "task": np.tile(["supervised"] * 3 + ["untrained"] * 3, 4),
                       "seed": np.tile([0, 1, 2], 8)})
    df["test_accuracy"] = np.where(df["task"] == "supervised", rng.uniform(0.6, 0.9, 24), rng.uniform(0.1, 0.15, 24))
    df["it_ev"] = 0.4 * df["test_accuracy"] + rng.normal(0, 0.03, 24)
    stats = figures.plot_performance_vs_it(df, tmp_path / "p.png", "x")
    check_outputs(tmp_path / "p.png")
    assert list(stats["models"]) == ["supervised", "all"] and (stats["n_archs"] == 4).all()
    trained = df[df["task"] == "supervised"]
    r = np.corrcoef(trained["test_accuracy"], trained["it_ev"])[0, 1]
    row = stats.iloc[0]
    assert row["r"] == pytest.approx(r) and row["r_low"] < row["r"] < row["r_high"] and row["n"] == 12
    assert "bootstrap over architectures" in row["interval"]
    assert stats.equals(figures.performance_statistics(df.assign(performance=100 * df["test_accuracy"])))  # seeded
    two = figures.performance_statistics(df[df["arch"] < "c"].assign(performance=1.0 * df["test_accuracy"]))
    assert np.isfinite(two["r"]).all() and two["r_low"].isna().all()  # two architectures: no interval


def test_axis_labels_say_raw_r2_where_no_ceiling_divides():
    df = pd.DataFrame({"region": ["V4", "IT"], "ceiling_normalised": [True, False]})
    assert "raw signed r² for IT" in figures._ev_axis_label(df)
    assert figures._ev_axis_label(df.assign(ceiling_normalised=True)) == figures.MEDIAN_EV_LABEL
    assert "explainable" not in figures._ev_axis_label(df.assign(ceiling_normalised=False)).split("not a")[0]
    models = pd.DataFrame({"it_ev": [0.1], "it_ev_normalised": [False]})
    assert figures._column_label(models, "it_ev") == figures.RAW_R2_LABEL
    assert figures._column_label(models.drop(columns="it_ev_normalised"), "it_ev") == figures.EV_LABEL


def test_trajectory_returns_r_over_checkpoints_with_its_bootstrap_interval(tmp_path):
    table = _trajectory_table()
    stats = figures.plot_trajectory(table, tmp_path / "t.png", "x")
    it = table[table["region"] == "IT"]
    row = stats.iloc[0]
    assert row["r"] == pytest.approx(np.corrcoef(it["test_accuracy"], it["ev_median"])[0, 1])
    assert row["r_low"] < row["r"] < row["r_high"] and row["n"] == len(it) and "bootstrap" in row["interval"]
    assert stats.equals(figures.plot_trajectory(table, tmp_path / "t2.png", "x"))  # seeded: the same every run


def test_seed_variance_figure_reads_only_the_columns_it_draws(inputs, tmp_path):
    """Statistics stay in seed_variance.csv: the figure needs only task and metric (and the
    retest noise where there), and ignores columns it does not know."""
    models, var = inputs["seed_variance"]
    slim = pd.read_csv(var)[["task", "metric", "retest_sd"]].assign(new_question_share=0.5)
    figures.plot_seed_variance(models, slim, tmp_path / "s.png", "x")
    check_outputs(tmp_path / "s.png")


def test_positive_control_figure_draws_every_score_and_comparison(tmp_path):
    positive_control_csv(tmp_path / "pc.csv")
    make("positive_control", [tmp_path / "pc.csv"], tmp_path / "pc.png", data_label="simulated")
    img = mpimg.imread(tmp_path / "pc.png")
    assert img.shape[0] > 200 and img.std() > 0.01 and (tmp_path / "pc.pdf").read_bytes().startswith(b"%PDF")
