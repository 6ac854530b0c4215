"""Brain-Score mode (``comparison.method: pls``) against brainscore-vision's own outputs.

``fixtures/brainscore/pls_fixture.npz`` holds a small seeded data set (80 images of 8 objects,
40 features, 12 sites x 6 repetitions) and what brainscore-vision 2.4.2 computed on it:
``CrossRegressedCorrelation(pls_regression(), pearsonr_correlation())`` per split and site,
its aggregate, ``InternalConsistency`` per split and site and aggregated, and
``neural_common.explained_variance`` of the two. It was generated once, in a separate
environment, by ``fixtures/brainscore/make_fixture.py`` (its docstring says how): brainscore-vision
pins numpy < 2 and xarray < 2022.6, which goaldriven cannot share.
"""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from goaldriven import cli
from goaldriven.compare import brainscore
from goaldriven.compare.methods import neural_predictivity
from goaldriven.core.io import open_netcdf, write_netcdf
from goaldriven.study.leaderboard import leaderboard
from goaldriven.data.assemblies import save_assembly
from goaldriven.study.summary import held_out_scores, predictivity_rows

FIXTURE = Path(__file__).parents[1] / "fixtures" / "brainscore" / "pls_fixture.npz"


@pytest.fixture(scope="module")
def bs():
    with np.load(FIXTURE) as data:
        return {k: data[k] for k in data.files}


def _arrays(bs, order):
    """Features and trial-averaged responses as labelled arrays, rows in ``order`` (not the
    fixture's sorted order: the pairing and the splits must come from the stimulus ids)."""
    ids, objects = bs["stimulus_id"][order], bs["object_name"][order]
    feats = xr.DataArray(bs["features"][order], dims=("presentation", "neuroid"),
                         coords={"stimulus_id": ("presentation", ids)})
    resp = xr.DataArray(bs["trials"].mean(axis=0)[order], dims=("presentation", "neuroid"),
                        coords={"stimulus_id": ("presentation", ids), "object_name": ("presentation", objects),
                                "neuroid_id": ("neuroid", bs["neuroid_id"])})
    return feats, resp


def test_pls_gives_brainscore_vision_per_split_r_and_its_aggregate(bs):
    order = np.random.default_rng(0).permutation(len(bs["stimulus_id"]))
    fit = neural_predictivity(*_arrays(bs, order), method="pls", splits=brainscore.N_SPLITS,
                              seed=brainscore.SPLIT_SEED)
    np.testing.assert_allclose(fit["r_split"].values, bs["r_split"], atol=1e-10)
    assert fit.attrs["split_median_r"] == pytest.approx(float(bs["score"]), abs=1e-12)
    assert brainscore.split_median(fit["r_split"].values) == pytest.approx(float(bs["score"]), abs=1e-12)
    # goaldriven's own order of aggregation differs (the reason for the Brain-Score mode)
    assert fit.attrs["median_r"] != pytest.approx(float(bs["score"]), abs=1e-6)


def test_ceiling_and_ceiled_score_are_brainscore_visions(bs):
    per_split = brainscore.split_half_consistency(bs["trials"])
    np.testing.assert_allclose(per_split, bs["ceiling_split"], atol=1e-12)
    ceiling = brainscore.split_median(per_split)
    assert ceiling == pytest.approx(float(bs["ceiling"]), abs=1e-12)
    assert brainscore.ceiled_score(float(bs["score"]), ceiling) == pytest.approx(float(bs["ceiled"]), abs=1e-12)
    assert np.isnan(brainscore.ceiled_score(0.5, 0.0)) and np.isnan(brainscore.ceiled_score(0.5, np.nan))


def _write_benchmark(bs, root: Path):
    """A features file (layer 'read' = the fixture's features, 'noise' = unrelated) and the
    single-trial assembly, each in its own row order."""
    rng = np.random.default_rng(1)
    n_stim, n_feat = bs["features"].shape
    order = rng.permutation(n_stim)
    X = np.concatenate([bs["features"], rng.normal(size=(n_stim, 10))], axis=1)[order]
    write_netcdf(xr.DataArray(X, dims=("presentation", "neuroid"), name="features",
                              coords={"stimulus_id": ("presentation", bs["stimulus_id"][order]),
                                      "layer": ("neuroid", ["read"] * n_feat + ["noise"] * 10)},
                              attrs={"model": "toy/supervised_seed0", "layers": "read,noise"}),
                 root / "features.nc")
    n_reps = bs["trials"].shape[0]
    assembly = xr.DataArray(
        bs["trials"].reshape(n_reps * n_stim, -1), dims=("presentation", "neuroid"),
        coords={"stimulus_id": ("presentation", np.tile(bs["stimulus_id"], n_reps)),
                "object_name": ("presentation", np.tile(bs["object_name"], n_reps)),
                "repetition": ("presentation", np.repeat(np.arange(n_reps), n_stim)),
                "neuroid_id": ("neuroid", bs["neuroid_id"]), "region": ("neuroid", ["IT"] * len(bs["neuroid_id"]))},
        attrs={"identifier": "fixture", "stimulus_set_identifier": "fixture"})
    save_assembly(assembly, root / "assembly.nc")


def _score(root: Path, method: str):
    out = root / f"scores_{method}.nc"
    assert cli.main(["score", "--features", str(root / "features.nc"), "--recordings", str(root / "assembly.nc"),
                     "--splits", "10", "--method", method, "--out", str(out)]) == 0
    return open_netcdf(out, kind="dataset")


def test_score_with_method_pls_reports_brainscores_ceiled_score_from_files(bs, tmp_path):
    _write_benchmark(bs, tmp_path)
    ds = _score(tmp_path, "pls")
    assert ds.attrs["method"] == "pls" and ds.attrs["split_seed"] == brainscore.SPLIT_SEED
    assert ds.attrs["convention"] == brainscore.CONVENTION
    np.testing.assert_allclose(ds["r_split"].sel(layer="read").values, bs["r_split"], atol=1e-10)
    np.testing.assert_allclose(ds["ceiling_split"].values, bs["ceiling_split"], atol=1e-12)
    rows = {r["layer"]: r for r in predictivity_rows(ds, {})}
    read = rows["read"]
    assert read["convention"] == "brainscore" and read["ceiling_normalised"]
    assert read["r_median"] == pytest.approx(float(bs["score"]), abs=1e-10)
    assert read["ceiling_median"] == pytest.approx(float(bs["ceiling"]), abs=1e-12)
    assert read["ev_median"] == pytest.approx(float(bs["ceiled"]), abs=1e-10)
    assert read["n_sites"] == 12
    assert rows["noise"]["ev_median"] < 0.1 < read["ev_median"]
    # the held-out layer choice and the leaderboard use the same aggregate, over halves of the sites
    held = held_out_scores(ds)["IT"]
    assert held["layer"] == "read" and 0.1 < held["score"] < 1.5
    board = leaderboard([tmp_path / "scores_pls.nc"], n_boot=50)
    assert board.loc[0, "convention"] == "brainscore" and board.loc[0, "score"] == pytest.approx(held["score"])
    assert board.loc[0, "ci_low"] <= board.loc[0, "score"] <= board.loc[0, "ci_high"]


def test_ridge_mode_keeps_goaldriven_conventions(bs, tmp_path):
    _write_benchmark(bs, tmp_path)
    ds = _score(tmp_path, "ridge")
    assert "r_split" not in ds and ds.attrs["method"] == "ridge" and ds.attrs["split_seed"] == 0
    read = {r["layer"]: r for r in predictivity_rows(ds, {})}["read"]
    assert read["convention"] == "goaldriven"
    sites = ds["ev"].sel(layer="read").values
    assert read["ev_median"] == pytest.approx(float(np.nanmedian(sites)))  # median of per-site ratios


def test_unknown_method_is_refused_by_the_command_line(bs, tmp_path, capsys):
    _write_benchmark(bs, tmp_path)
    with pytest.raises(SystemExit):
        cli.main(["score", "--features", str(tmp_path / "features.nc"), "--recordings",
                  str(tmp_path / "assembly.nc"), "--method", "svm", "--out", str(tmp_path / "x.nc")])
    assert "invalid choice: 'svm'" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()


def test_the_config_key_reaches_every_scoring_command(tmp_path):
    """comparison.method: pls in a config puts --method pls on every score and trajectory job."""
    import yaml

    from workflow_helpers import copy_repo, run

    repo = copy_repo(tmp_path / "repo")
    config = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    config["comparison"]["method"] = "pls"
    (repo / "config/pls.yaml").write_text(yaml.safe_dump(config))
    out = run(["snakemake", "-n", "-p", "--cores", "1", "--configfile", "config/pls.yaml"], repo).stdout
    commands = [line for line in out.splitlines() if re.search(r"goaldriven (--numerics \w+ )?(--threads \d+ )?(score|trajectory) ", line)]
    assert commands and all("--method pls" in line for line in commands), commands[:3]


def test_figures_label_brainscore_aggregates_as_such(bs, tmp_path):
    from goaldriven.study import figures
    from goaldriven.study.summary import predictivity_rows

    _write_benchmark(bs, tmp_path)
    ds = _score(tmp_path, "pls")
    df = pd.DataFrame([{**r, "arch": "toy", "task": "supervised", "seed": 0, "model": "toy/supervised_seed0"}
                       for r in predictivity_rows(ds, {})])
    assert figures._ev_axis_label(df) == figures.BS_LABEL
    assert figures._ev_axis_label(df.assign(convention="goaldriven")) == figures.MEDIAN_EV_LABEL
