"""End to end on REAL data: DVC brings the raw files in from their source (../shared/data, the
"shared" DVC remote), and the reduced real-data experiment runs under Snakemake and DVC."""

import json
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest
import xarray as xr
import yaml

from workflow_helpers import SHARED, copy_repo, planned_jobs, run

REAL = ["--configfile", "config/real_small.yaml"]
OUT = Path("results/real_small")
RAW = ["cifar10", "cowley2023_v4", "kalfas2017_it", "kriegeskorte2008_92images"]
pytestmark = pytest.mark.slow


def with_raw_data(dest: Path) -> Path:
    """A fresh copy of the repository whose DVC-tracked raw data are fetched from the source."""
    assert SHARED.is_dir(), f"{SHARED}: the real data are missing (set GOALDRIVEN_SHARED_DATA)"
    repo = copy_repo(dest, pipelines=("real_small",))
    run(["dvc", "remote", "add", "--local", "-f", "shared", str(SHARED)], repo)
    run(["dvc", "update", *[f"data/{d}.dvc" for d in RAW]], repo)
    return repo


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    repo = with_raw_data(tmp_path_factory.mktemp("real"))
    run(["snakemake", "--cores", "2", *REAL], repo, timeout=1800)
    return repo


def test_raw_data_match_their_recorded_hashes(built):
    status = run(["dvc", "status", "--json", *[f"data/{d}.dvc" for d in RAW]], built).stdout
    assert json.loads(status) == {}, status


def test_every_figure_is_drawn_from_real_data(built):
    figures = sorted(p.stem for p in (built / OUT / "figures").glob("*.png"))
    assert figures == sorted(["layer_profiles", "performance_vs_it", "rsa", "cka", "correspondence", "matching",
                              "seed_variance", "unit_examples", "trajectory", "leaderboard", "positive_control"])
    for name in figures:
        img = mpimg.imread(built / OUT / "figures" / f"{name}.png")
        assert img.shape[0] > 200 and img.std() > 0.01


def test_positive_control_counts_the_sites_it_uses_and_covers_every_score(built):
    table = pd.read_csv(built / OUT / "summary/positive_control.csv")
    scores = table.groupby(["benchmark", "region", "score"])["n_sites"].first()
    # V4 EV only over the single-trial session's sites (the ones with a ceiling); r over all 306
    assert 0 < scores[("cowley_v4", "V4", "ceiling-normalised EV (sites with a ceiling)")] <= 50
    assert scores[("cowley_v4", "V4", "median r (all sites)")] == 306
    assert scores[("kalfas_it", "IT", "signed r² (raw; no ceiling)")] == 119
    assert {"monkey_IT", "human_IT"} <= set(table.loc[table["benchmark"] == "kriegeskorte92", "region"])
    assert set(table["comparison"]) == {"untrained (same seed)"}  # real_small has no pixel or V1 controls
    ok = table.dropna(subset=["difference_low"])
    assert (ok["difference_low"] <= ok["difference_high"]).all() and len(ok) == len(table)
    # Kalfas: 64 shapes in 10 folds, so r comes from the predictions pooled over the folds
    ds = xr.open_dataset(built / OUT / "scores/kalfas_it/hmo/supervised_seed0.nc")
    assert "pooled" in ds.attrs["r_estimator"]


def test_models_are_scored_against_real_v4_it_and_it_geometry(built):
    pred = pd.read_csv(built / OUT / "summary/predictivity.csv")
    assert set(pred["benchmark"]) == {"cowley_v4", "kalfas_it"}
    assert set(pred["region"]) == {"V4", "IT"}
    v4 = pred[pred["region"] == "V4"]
    # Cowley's single-trial session gives ceilings, so V4 is ceiling-normalised; Kalfas has none.
    assert v4["ceiling_normalised"].all() and not pred[pred["region"] == "IT"]["ceiling_normalised"].any()
    assert v4["ceiling_median"].between(0.05, 1).all()
    # Trained networks predict V4 sites above chance on held-out natural images.
    best = v4[v4["task"] == "supervised"].groupby("model")["r_median"].max()
    assert (best > 0.1).all(), best
    rsa = pd.read_csv(built / OUT / "summary/rsa.csv")
    assert {"monkey_IT", "human_IT"} <= set(rsa["region"])
    published = rsa[rsa["benchmark"] == "kriegeskorte92"]  # bootstrap intervals over the 92 images
    assert published["rsa_low"].le(published["rsa"]).all() and published["rsa"].le(published["rsa_high"]).all()
    v4 = rsa[rsa["region"] == "V4"]  # the single-trial session gives an RDM noise ceiling
    assert (v4["rsa_ceiling_low"] <= v4["rsa_ceiling_high"]).all() and v4["rsa_ceiling_high"].between(0, 1).all()
    refs = pd.read_csv(built / OUT / "summary/references.csv")
    assert len(refs) == 4 and refs["rsa"].between(-1, 1).all()  # V1 model and HMAX vs monkey and human IT


def test_scores_record_their_benchmark_and_sessions(built):
    ds = xr.open_dataset(built / OUT / "scores/cowley_v4/hmo/supervised_seed0.nc")
    assert ds.attrs["benchmark"] == "cowley_v4" and ds.attrs["n_sessions"] == 6
    assert ds["r"].notnull().all()


def test_dvc_finds_the_real_data_run_up_to_date(built):
    status = run(["dvc", "status", "--json", "pipelines/real_small/dvc.yaml"], built).stdout
    assert json.loads(status) == {}, status
    assert planned_jobs(built, *REAL) == {}


def test_lineage_of_a_real_figure_reaches_the_raw_data(built):
    out = run(["goaldriven", "lineage", str(OUT / "figures/layer_profiles.png"), "--format", "json"], built).stdout
    raw = {r["path"]: r for r in json.loads(out)["raw_inputs"]}
    for path in ("data/cowley2023_v4", "data/kalfas2017_it", "data/cifar10"):
        assert raw[path]["status"] == "ok" and raw[path]["md5"] == raw[path]["recorded_md5"], raw.get(path)
        # ... and that hash is the one the data's .dvc file records for its source
        tracked = yaml.safe_load((built / f"{path}.dvc").read_text())["outs"][0]["md5"]
        assert raw[path]["recorded_md5"] == tracked
