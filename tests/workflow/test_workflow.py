"""End to end: the smoke experiment through Snakemake and DVC, in a copy of the repository."""

import json

import matplotlib.image as mpimg
import pandas as pd
import pytest
import xarray as xr
import yaml

from workflow_helpers import PIPELINE, REPO, SMOKE, copy_repo, planned_jobs, run



def test_snakemake_builds_every_figure_and_valid_files(built):
    figures = sorted((built / "results/smoke/figures").glob("*.png"))
    assert [f.stem for f in figures] == sorted(
        ["montage", "layer_profiles", "performance_vs_it", "rsa", "cka", "correspondence", "recovery", "matching",
         "seed_variance", "unit_examples", "trajectory", "leaderboard", "positive_control"])
    for png in figures:
        img = mpimg.imread(png)
        assert img.shape[0] > 200 and img.shape[1] > 200 and img.std() > 0.01
        assert png.with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    for nc in (built / "results").rglob("*.nc"):
        xr.open_dataset(nc).close()
    rec = xr.open_dataarray(built / "results/smoke/recordings/simulated.nc")
    assert rec.attrs["simulated"] == 1


def test_second_dry_run_has_nothing_to_do(built):
    assert planned_jobs(built, *SMOKE) == {}


def test_recovery_check_finds_the_surrogate_top_layer_for_it(built):
    rec = pd.read_csv(built / "results/smoke/summary/recovery.csv")
    it = rec[rec["region"] == "IT"]
    assert it["best_layer"].iloc[0] == it["ground_truth_layer"].iloc[0] == "stage5"


def test_dvc_finds_snakemake_results_up_to_date(built):
    status = run(["dvc", "status", "--json", PIPELINE], built).stdout
    assert json.loads(status) == {}, status


def test_changing_one_parameter_reruns_only_affected_jobs(built):
    # Changed in the config file itself, as `dvc exp run -S` does (DVC params are read from it).
    smoke = built / "config/smoke.yaml"
    before = smoke.read_text()
    cfg = yaml.safe_load(before)
    cfg["models"]["seeds"].append(7)
    try:
        smoke.write_text(yaml.safe_dump(cfg))
        jobs = planned_jobs(built, *SMOKE)
        n_models = len(cfg["models"]["archs"])  # one more seed of each architecture and task
        assert jobs == {"train": n_models, "initialise": n_models, "features": 2 * n_models, "score": 2 * n_models,
                        "convergence": 1, "summarise": 1, "unit_matching": 2 * n_models, "matching_summary": 1,
                        "seed_variance": 1,
                        "trajectory_model": 2 * n_models, "trajectory": 1, "leaderboard": 1, "layer_profiles": 1,
                        "positive_control": 1, "figure": 11, "all": 1}, jobs
        n_new = 2 * n_models
        # (the stimuli, surrogate, recordings, montage and unit examples of seeds 0 and 1 stay, and
        # so do the trajectories of their models: each model's checkpoints are scored in a job of its own)
        # DVC sees the same: new stages plus the aggregates; nothing upstream.
        run(["python", "workflow/scripts/export_dvc.py", *SMOKE], built)
        # (DVC names a stage of a pipeline outside the root "pipelines/smoke/dvc.yaml:STAGE")
        stale = {s.split(":", 1)[-1] for s in json.loads(run(["dvc", "status", "--json", PIPELINE], built).stdout)}
        assert not any(s.startswith(("stimuli", "train_surrogate", "simulate", "figure--montage")) for s in stale)
        assert sum(s.startswith(("train--", "initialise--")) for s in stale) == n_new
        assert {"convergence", "summarise", "leaderboard", "positive_control"} <= stale
    finally:
        smoke.write_text(before)
        run(["python", "workflow/scripts/export_dvc.py", *SMOKE], built)  # back to the built config


def test_smoke_dag_plans_every_stage(tmp_path):
    """The quick check of the whole DAG a plain ``pytest`` runs: a dry run of the smoke config."""
    jobs = planned_jobs(copy_repo(tmp_path), *SMOKE)
    stages = {"stimuli", "train_surrogate", "simulate_recordings", "initialise", "train", "features", "score",
              "summarise", "convergence", "unit_matching", "matching_summary", "seed_variance", "trajectory",
              "figure"}
    assert stages <= set(jobs), stages - set(jobs)
    assert jobs["train"] == jobs["initialise"]  # every trained model has its untrained control

@pytest.mark.slow
def test_dvc_repro_then_snakemake_finds_nothing_to_do(tmp_path):
    repo = copy_repo(tmp_path, pipelines=("smoke",))
    # The smoke DAG with one architecture: DVC runs its stages one at a time.
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["models"]["archs"] = ["hmo"]
    (repo / "config/one_arch.yaml").write_text(yaml.safe_dump(cfg))
    one_arch = ["--configfile", "config/one_arch.yaml"]
    run(["python", "workflow/scripts/export_dvc.py", *one_arch], repo)
    dag = run(["dvc", "dag", PIPELINE], repo).stdout
    for stage in ("stimuli--train", "train_surrogate", "simulate_recordings", "train--hmo-supervised-0",
                  "features--", "score--", "convergence", "summarise", "figure_cka"):
        assert stage in dag
    run(["dvc", "repro", "--quiet", PIPELINE], repo)
    assert (repo / "results/smoke/figures/cka.png").exists()
    assert planned_jobs(repo, *one_arch) == {}
    assert json.loads(run(["dvc", "status", "--json", PIPELINE], repo).stdout) == {}


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory):
    """What CI checks out: no raw data fetched into data/ yet."""
    clone = copy_repo(tmp_path_factory.mktemp("clone"))
    assert not any((clone / "data").glob("*/")), "a fresh clone has no raw data"
    return clone


@pytest.mark.parametrize("where", ["checkout", pytest.param("fresh clone", marks=pytest.mark.slow)])
@pytest.mark.parametrize("config", ["config/config.yaml", "config/smoke.yaml", "config/real.yaml",
                                    "config/real_small.yaml", "config/real_cpu.yaml", "config/real_cpu_objects.yaml"])
def test_committed_dvc_yaml_matches_the_snakefile(config, where, fresh_clone):
    # The generated pipeline must not depend on whether `dvc update` has fetched data/ yet.
    repo = REPO if where == "checkout" else fresh_clone
    run(["python", "workflow/scripts/export_dvc.py", "--configfile", config, "--check"], repo)
    if repo is fresh_clone:
        assert run(["git", "status", "--porcelain"], fresh_clone).stdout == ""


@pytest.mark.slow
def test_unfetched_raw_data_error_says_how_to_fetch_it(fresh_clone):
    result = run(["snakemake", "-n", "--configfile", "config/real_small.yaml"], fresh_clone, check=False)
    assert result.returncode != 0
    assert "is missing; fetch it with: dvc update data/" in result.stdout + result.stderr


def test_snakemake_lint_passes():
    result = run(["snakemake", "--lint"], REPO, check=False)
    assert result.returncode == 0 and "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_unit_matching_skips_randomly_projected_layers(built):
    feats = xr.open_dataarray(built / "results/smoke/features/simulated/hmo/supervised_seed0.nc")
    projected = set(filter(None, feats.attrs["projected_layers"].split(",")))
    assert projected, "the smoke config should project at least one layer"
    matched = set(pd.read_csv(built / "results/smoke/convergence/matching/hmo_supervised.csv")["layer"])
    assert matched and not matched & projected
    assert matched | projected == set(feats.attrs["layers"].split(","))


def test_similarity_tables_compare_seeds_and_architectures_against_a_null(built):
    sim = pd.read_csv(built / "results/smoke/convergence/similarity.csv")
    assert {"cross_seed", "cross_arch", "pixels"} <= set(sim["comparison"])
    assert sim["null_mean"].abs().max() <= 0.05 and (sim["null_p95"] > sim["null_mean"]).all()
    summary = pd.read_csv(built / "results/smoke/convergence/similarity_summary.csv")
    assert {"cross_seed", "cross_arch", "difference_low", "difference_high"} <= set(summary.columns)
    corr = pd.read_csv(built / "results/smoke/convergence/correspondence.csv")
    assert corr["fraction_corresponding"].between(0, 1).all() and set(corr["arch"]) == {"hmo", "alexnet"}
