"""The leaderboard: best layer chosen on held-out sites, intervals over sites, ranked."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from goaldriven.study import figures
from goaldriven.core.io import InputError, write_netcdf
from goaldriven.study.leaderboard import layer_profiles, leaderboard, write_leaderboard


def scores(model, ev_by_layer, benchmark="bench", regions=("V4", "IT"), seed=0):
    """A scores Dataset as goaldriven score writes it: ev (layer x site) with ceilings."""
    rng = np.random.default_rng(seed)
    n_layers, n_sites = len(ev_by_layer), 40
    region = np.repeat(regions, n_sites // len(regions))
    ev = np.array([level + 0.05 * rng.normal(size=n_sites) for level in ev_by_layer])
    layers = [f"layer{i}" for i in range(n_layers)]
    return xr.Dataset({"r": (("layer", "neuroid"), np.sqrt(np.clip(ev, 0, 1))), "ev": (("layer", "neuroid"), ev),
                       "ceiling": ("neuroid", np.ones(n_sites)), "rsa": (("layer", "area"), np.zeros((n_layers, 2)))},
                      coords={"layer": layers, "layer_index": ("layer", np.arange(n_layers)), "area": list(regions),
                              "neuroid_id": ("neuroid", [f"n{i}" for i in range(n_sites)]),
                              "region": ("neuroid", region)},
                      attrs={"model": model, "benchmark": benchmark, "kind": "predictivity"})


@pytest.fixture
def files(tmp_path):
    paths = []
    for name, levels in {"hmo/supervised_seed0": [0.1, 0.5, 0.3], "hmo/supervised_seed1": [0.1, 0.45, 0.3],
                         "hmo/untrained_seed0": [0.1, 0.2, 0.15], "mynet/external_seed0": [0.6, 0.2]}.items():
        path = tmp_path / (name.replace("/", "_") + ".nc")
        write_netcdf(scores(name, levels, seed=len(paths)), path)
        paths.append(path)
    return paths


def test_ranked_with_held_out_best_layer_and_interval(files):
    df = leaderboard(files, n_boot=200)
    it = df[df["area"] == "IT"].set_index("model")
    assert list(it.sort_values("rank").index) == ["mynet", "hmo/supervised", "hmo/untrained"]
    assert dict(it["kind"]) == {"mynet": "external", "hmo/supervised": "zoo", "hmo/untrained": "control"}
    assert it.loc["hmo/supervised", "best_layer"] == "layer1" and it.loc["hmo/supervised", "n_seeds"] == 2
    assert it.loc["mynet", "best_layer"] == "layer0"
    assert (it["ci_low"] <= it["score"]).all() and (it["score"] <= it["ci_high"]).all()
    assert it.loc["hmo/supervised", "score"] == pytest.approx(0.475, abs=0.03)


def test_held_out_selection_does_not_inflate_noise():
    """With layers that differ only by noise, picking the max on the same sites is biased up;
    picking on the other half is not."""
    rng = np.random.default_rng(0)
    ds = scores("x/supervised_seed0", [0.0] * 8)
    ds["ev"].values[:] = rng.normal(size=ds["ev"].shape)
    df = leaderboard([ds_path(ds)], n_boot=0)
    in_sample = max(np.median(ds["ev"].values[:, ds["region"].values == "IT"], axis=1))
    held = df.loc[df["area"] == "IT", "score"].item()
    assert held < in_sample


def ds_path(ds, _n=[0]):
    import tempfile
    from pathlib import Path

    _n[0] += 1
    path = Path(tempfile.mkdtemp()) / f"s{_n[0]}.nc"
    write_netcdf(ds, path)
    return path


def test_json_metrics_figure_and_profiles(tmp_path, files):
    df = write_leaderboard(files, tmp_path / "lb.csv", tmp_path / "lb.json", n_boot=50)
    metrics = json.loads((tmp_path / "lb.json").read_text())
    assert metrics["bench"]["IT"]["mynet"]["rank"] == 1
    assert set(metrics["bench"]["V4"]) == set(df["model"])
    figures.make("leaderboard", {"leaderboard_csv": str(tmp_path / "lb.csv")}, tmp_path / "lb.png", data_label="test")
    assert (tmp_path / "lb.png").stat().st_size > 10_000 and (tmp_path / "lb.pdf").exists()
    pred = pd.DataFrame({"benchmark": "bench", "region": "IT", "arch": ["hmo", "hmo", "mynet"],
                         "task": ["supervised", "supervised", "external"], "seed": 0, "layer": ["a", "b", "c"],
                         "layer_index": [0, 1, 0], "ev_median": [0.1, 0.2, 0.3]})
    pred.to_csv(tmp_path / "pred.csv", index=False)
    paths = layer_profiles(tmp_path / "pred.csv", tmp_path / "plots")
    assert [p.name for p in paths] == ["bench_IT_hmo-supervised.csv", "bench_IT_mynet.csv"]
    assert list(pd.read_csv(paths[0])["layer"]) == ["a", "b"]


def test_bad_model_id_names_the_file(tmp_path):
    path = ds_path(scores("not a model id", [0.1]))
    with pytest.raises(InputError, match=r"s\d+\.nc: model 'not a model id'"):
        leaderboard([path])


def test_leaderboard_score_is_the_models_table_held_out_score(files):
    """One definition of a model's score for an area: the leaderboard's (mean over seeds) equals
    the mean of models.csv's per-seed held-out scores (goaldriven.study.summary.held_out_scores)."""
    from goaldriven.core.io import open_netcdf
    from goaldriven.study.summary import held_out_scores

    df = leaderboard(files, n_boot=0).set_index(["area", "model"])
    seeds = [open_netcdf(p, kind="dataset") for p in files[:2]]  # hmo/supervised, seeds 0 and 1
    for area in ("V4", "IT"):
        expected = np.mean([held_out_scores(ds)[area]["score"] for ds in seeds])
        assert df.loc[(area, "hmo/supervised"), "score"] == pytest.approx(expected, abs=1e-12)


def test_rdm_rows_choose_the_layer_on_one_half_of_the_images_like_the_models_table(tmp_path):
    from goaldriven.study.summary import held_out_rsa

    rng = np.random.default_rng(0)
    half = np.array([[[0.6], [0.2]], [[0.1], [0.5]]])  # (half, layer, area): each half prefers another layer
    ds = xr.Dataset({"rsa": (("layer", "area"), [[0.5], [0.4]]), "rsa_half": (("half", "layer", "area"), half),
                     "rsa_half_boot": (("half", "layer", "area", "bootstrap"),
                                       half[..., None] + 0.01 * rng.normal(size=(2, 2, 1, 200))),
                     "rsa_low": (("layer", "area"), [[0.4], [0.3]]), "rsa_high": (("layer", "area"), [[0.6], [0.5]])},
                    coords={"layer": ["l0", "l1"], "layer_index": ("layer", [0, 1]), "area": ["IT"]},
                    attrs={"model": "x/supervised_seed0", "benchmark": "rdms", "kind": "rdms"})
    write_netcdf(ds, tmp_path / "s.nc")
    row = leaderboard([tmp_path / "s.nc"], n_boot=0).iloc[0]
    assert row["score"] == pytest.approx(held_out_rsa(ds)["IT"]["score"]) == pytest.approx(0.15)
    assert row["ci_low"] < 0.15 < row["ci_high"] and "one half of the images" in row["selection"]
