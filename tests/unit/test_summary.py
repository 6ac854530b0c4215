"""Tidy tables of goaldriven summarise: model ids, honest site counts, sessions, held-out RSA."""

import json
import sys

import numpy as np
import xarray as xr

from goaldriven.study.summary import held_out_rsa, tables
from workflow_helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import positive_control_coverage as sim  # noqa: E402


def _metrics(path, arch, task, seed, accuracy):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": {"arch": arch, "task": task, "seed": seed}, "test_accuracy": accuracy}))
    return path


def _score_file(path, model, rng, ceiling):
    signal = rng.normal(size=(30, 8))
    ds = sim.score_dataset(model, signal, signal + rng.normal(size=signal.shape), rng)
    n = ds.sizes["neuroid"]
    r = rng.uniform(0.2, 0.6, (2, n))
    ds["ceiling"] = ("neuroid", ceiling)
    ds["r"] = (("layer", "neuroid"), r)
    ds["ev"] = (("layer", "neuroid"), np.where(np.isfinite(ceiling), r ** 2 / ceiling, np.nan))
    ds["rsa"] = (("layer", "area"), [[0.1], [0.3]])
    ds = ds.assign_coords(layer_index=("layer", [0, 1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path)
    return path


def test_second_diet_models_are_named_by_their_folder_and_counted_honestly(tmp_path):
    rng = np.random.default_rng(0)
    ceiling = np.array([0.8, 0.7, 0.9] + [np.nan] * 5)  # 3 of 8 sites have single trials
    metrics = [_metrics(tmp_path / "models/hmo/supervised_seed0/metrics.json", "hmo", "supervised", 0, 0.8),
               # trained as 'supervised' on the objects diet: the folder names the model
               _metrics(tmp_path / "models/hmo/objects_seed0/metrics.json", "hmo", "supervised", 0, 0.9)]
    scores = [_score_file(tmp_path / f"scores/{m}.nc", m, rng, ceiling)
              for m in ("hmo/supervised_seed0", "hmo/objects_seed0")]
    t = tables(scores, metrics)
    models = t["models"].set_index("model")
    assert models.loc["hmo/objects_seed0", "task"] == "objects"
    assert models.loc["hmo/objects_seed0", "test_accuracy"] == 0.9
    pred = t["predictivity"]
    assert (pred["n_sites"] == 3).all() and (pred["n_sites_r"] == 8).all()  # EV over the 3 with a ceiling
    sessions = t["sessions"]
    assert set(sessions["session"]) == {0} and (sessions["n_images"] == 30).all() and (sessions["n_sites"] == 8).all()
    assert "it_ev_retest_images_diff" in models.columns and np.isfinite(models["it_ev_retest_images_diff"]).all()


def test_rsa_layer_is_chosen_on_one_half_of_the_images_and_scored_on_the_other():
    ds = xr.Dataset({"rsa": (("layer", "area"), [[0.5], [0.4]]),
                     "rsa_half": (("half", "layer", "area"), [[[0.6], [0.2]], [[0.1], [0.5]]])},
                    coords={"layer": ["l0", "l1"], "area": ["IT"]})
    held = held_out_rsa(ds)["IT"]
    # half 0 prefers l0, scored on half 1 (0.1); half 1 prefers l1, scored on half 0 (0.2)
    assert held["score"] == (0.1 + 0.2) / 2 and held["layer"] == "l0" and held["_in_sample"] == 0.5
    assert "one half of the images" in held["selection"]


def test_a_layer_without_ceiled_sites_is_scored_by_its_raw_r2_in_the_per_layer_table(tmp_path):
    from goaldriven.core.io import open_netcdf
    from goaldriven.study.summary import predictivity_rows

    rng = np.random.default_rng(1)
    ceiling = np.array([0.8, 0.7, 0.9] + [np.nan] * 5)
    ds = open_netcdf(_score_file(tmp_path / "s.nc", "hmo/supervised_seed0", rng, ceiling), kind="dataset")
    r = ds["r"].values.copy()
    r[1, :3] = np.nan  # layer 1: no finite r at the sites with a ceiling
    ds["r"] = (("layer", "neuroid"), r)
    ds["ev"] = (("layer", "neuroid"), np.where(np.isfinite(ceiling), r ** 2 / ceiling, np.nan))
    rows = predictivity_rows(ds, {})
    assert rows[0]["ceiling_normalised"] and rows[0]["n_sites"] == 3
    assert not rows[1]["ceiling_normalised"] and rows[1]["n_sites"] == 5
    assert rows[1]["ev_median"] == np.nanmedian(np.sign(r[1]) * r[1] ** 2)


def test_the_92_image_rsa_is_reported_on_all_images_with_spearman_and_kendall_tau_a(tmp_path):
    from goaldriven.cli import main
    from goaldriven.compare.score import score_rdms
    from goaldriven.core.io import write_netcdf
    from workflow_helpers import SHARED

    assert main(["import", "kriegeskorte92", str(SHARED / "kriegeskorte2008_92images"), str(tmp_path / "k92")]) == 0
    rng = np.random.default_rng(0)
    x = rng.normal(size=(92, 10))
    layers = {"l0": rng.normal(size=(92, 20)), "l1": x @ rng.normal(size=(10, 15))}
    feats = xr.DataArray(np.concatenate(list(layers.values()), axis=1), dims=("presentation", "neuroid"),
                         coords={"stimulus_id": ("presentation", [f"img{i + 1:02d}" for i in range(92)]),
                                 "layer": ("neuroid", ["l0"] * 20 + ["l1"] * 15)},
                         name="activations", attrs={"model": "hmo/supervised_seed0", "layers": "l0,l1",
                                                    "projected_layers": ""})
    write_netcdf(feats, tmp_path / "f.nc")
    ds = score_rdms(tmp_path / "f.nc", tmp_path / "k92/rdms.nc", n_boot=20, benchmark="kriegeskorte92")
    assert ds.attrs["n_stimuli"] == 92 and "no noise ceiling" in ds.attrs["rsa"]
    tau = ds["rsa_kendall_tau_a"].values
    assert (ds["rsa_kendall_tau_a_low"].values <= tau).all() and (tau <= ds["rsa_kendall_tau_a_high"].values).all()
    write_netcdf(ds, tmp_path / "s.nc")
    t = tables([tmp_path / "s.nc"], [_metrics(tmp_path / "m/hmo/supervised_seed0/metrics.json", "hmo",
                                              "supervised", 0, 0.5)])
    row = t["models"].iloc[0]
    best = int(np.argmax(ds["rsa"].sel(area="human_IT").values))
    assert row["human_it_rsa_full_spearman"] == ds["rsa"].sel(area="human_IT").values[best]
    assert row["human_it_rsa_full_kendall_tau_a"] == ds["rsa_kendall_tau_a"].sel(area="human_IT").values[best]
    assert row["human_it_rsa_full_n_images"] == 92 and "optimistic" in row["human_it_rsa_full_selection"]
    assert row["human_it_rsa_full_kendall_tau_a_low"] <= row["human_it_rsa_full_kendall_tau_a"]
    assert {"rsa_kendall_tau_a_low", "rsa_kendall_tau_a_high"} <= set(t["rsa"].columns)


def test_full_set_rsa_groups_seeds_with_seeds_and_images_in_the_interval():
    import pandas as pd

    from goaldriven.study.summary import full_set_rsa

    rows = [{"task": "supervised", "arch": "hmo", "seed": s, "it_rsa_full_spearman": v, "it_rsa_full_spearman_low": v - 0.1,
             "it_rsa_full_spearman_high": v + 0.1, "it_rsa_full_kendall_tau_a": v / 2,
             "it_rsa_full_kendall_tau_a_low": v / 2 - 0.05, "it_rsa_full_kendall_tau_a_high": v / 2 + 0.05,
             "it_rsa_full_n_images": 92, "it_rsa_full_selection": "optimistic"} for s, v in enumerate((0.2, 0.3, 0.25))]
    row = full_set_rsa(pd.DataFrame(rows)).iloc[0]
    assert row["spearman"] == 0.25 and row["n_seeds"] == 3 and row["n_images"] == 92
    se_images = 0.2 / (2 * 1.959964)  # the models' interval width as a normal sd
    assert row["spearman_high"] - row["spearman"] > 1.96 * se_images  # seeds widen it
    assert row["kendall_tau_a_low"] < 0.125 < row["kendall_tau_a_high"] and "Nili" in row["ceiling"]
