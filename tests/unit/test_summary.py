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
