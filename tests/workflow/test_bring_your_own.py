"""Done means (#16): an external nn.Module scored beside the zoo in the smoke run, in the
leaderboard and the figures; DVC params, metrics, plots and experiments on the pipeline."""

import json
import re
import shutil
import sys

import pandas as pd
import pytest
import yaml

from workflow_helpers import PIPELINE, SHARED, SMOKE, copy_repo, planned_jobs, run

pytestmark = pytest.mark.slow

MODEL = '''
import torch
from torch import nn


def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 5, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(64, 10))
'''


@pytest.fixture(scope="module")
def with_external(built, tmp_path_factory):
    """A copy of the built smoke experiment with an external model added to its config, run again."""
    repo = tmp_path_factory.mktemp("ext") / "repo"
    shutil.copytree(built, repo, symlinks=True)
    (repo / "models").mkdir()
    (repo / "models/mine.py").write_text(MODEL)
    config = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    config["models"]["external"] = [{"name": "mine", "factory": "models/mine.py:build", "layers": ["0", "2", "6"],
                                     "input_size": 48, "preprocessing": "imagenet"}]
    config["dvc"] = {"commit_after_snakemake": False}
    (repo / "config/ext.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    jobs = planned_jobs(repo, "--configfile", "config/ext.yaml")
    run(["snakemake", "--cores", "2", "--configfile", "config/ext.yaml"], repo)
    return repo, jobs


def test_only_the_external_model_and_what_gathers_models_run(with_external):
    _, jobs = with_external
    assert jobs["external_model"] == 1 and jobs["features_external"] == 1 and jobs["score"] == 1
    assert not {"train", "initialise", "features", "trajectory_model", "unit_matching"} & set(jobs)


def test_external_model_is_scored_beside_the_zoo_in_tables_leaderboard_and_figures(with_external):
    repo, _ = with_external
    models = pd.read_csv(repo / "results/smoke/summary/models.csv")
    assert "mine/external_seed0" in set(models["model"])
    board = pd.read_csv(repo / "results/smoke/summary/leaderboard.csv")
    mine = board[board["model"] == "mine"]
    assert set(mine["area"]) == {"V4", "IT"} and (mine["kind"] == "external").all()
    assert mine["best_layer"].isin(["0", "2", "6"]).all() and mine["score"].notna().all()
    assert {"zoo", "control", "external"} <= set(board["kind"])
    pred = pd.read_csv(repo / "results/smoke/summary/predictivity.csv")
    assert set(pred.loc[pred["arch"] == "mine", "layer"].astype(str)) == {"0", "2", "6"}
    for figure in ("layer_profiles", "leaderboard"):
        png = repo / f"results/smoke/figures/{figure}.png"
        assert png.stat().st_mtime > (repo / "results/smoke/scores/simulated/mine/external_seed0.nc").stat().st_mtime
    # the factory file is a tracked dependency of the model's stages
    run([sys.executable, "workflow/scripts/export_dvc.py", "--configfile", "config/ext.yaml",
         "--output", "ext.dvc.yaml"], repo)
    stages = yaml.safe_load((repo / "ext.dvc.yaml").read_text())["stages"]
    assert "models/mine.py" in stages["features_external--simulated-mine"]["deps"]


def test_score_model_on_the_same_file_and_a_kalfas_assembly(with_external, tmp_path):
    repo, _ = with_external
    assert (SHARED / "kalfas2017_it").is_dir(), "Kalfas data missing (see data/README.md)"
    run(["goaldriven", "import", "kalfas-it", str(SHARED / "kalfas2017_it"), str(tmp_path / "kalfas")], repo)
    out = run(["goaldriven", "score-model", "--model", "models/mine.py:build", "--layers", "0,2,6",
               "--benchmark", str(tmp_path / "kalfas"), "--out", str(tmp_path / "scored"), "--splits", "3"], repo).stdout
    lines = [line.split() for line in out.splitlines()]
    assert [row[:2] for row in lines if row and row[0] in {"0", "2", "6"}] == [["0", "IT"], ["2", "IT"], ["6", "IT"]]


def test_dvc_metrics_plots_and_params(built):
    stages = yaml.safe_load((built / PIPELINE).read_text())
    assert stages["vars"] == ["../../config/smoke.yaml"]  # paths of a pipeline are relative to its file
    score = stages["stages"]["score--simulated-hmo-supervised_seed0"]
    assert "${comparison.splits}" in score["cmd"] and {"config/smoke.yaml": ["comparison.splits", "comparison.seed", "comparison.criterion", "comparison.method"]} \
        in score["params"]
    # (each experiment has its own pipeline: name its files, or DVC also lists the unbuilt ones)
    metrics = json.loads(run(["dvc", "metrics", "show", "results/smoke/summary/leaderboard.json", "--json"],
                             built).stdout)
    files = next(iter(metrics.values()))["data"]
    board = next(v for k, v in files.items() if k.endswith("results/smoke/summary/leaderboard.json"))["data"]
    assert board["simulated"]["IT"]["hmo/supervised"]["rank"] >= 1
    plots = json.loads(run(["dvc", "plots", "show", PIPELINE, "--json"], built).stdout)
    assert not plots.get("errors") and any("layer_profiles/simulated_IT_hmo-supervised.csv" in p for p in plots["data"])
    config = built / "config/smoke.yaml"
    before = config.read_text()
    try:
        config.write_text(before.replace("splits: 4", "splits: 3"))
        diff = run(["dvc", "params", "diff", "--json"], built).stdout
        # (old: the committed dvc.yaml's value; the copy's HEAD holds the default config's pipeline)
        assert json.loads(diff)["config/smoke.yaml"]["comparison.splits"]["new"] == 3
    finally:
        config.write_text(before)


def test_dvc_exp_run_sets_a_parameter(built, tmp_path):
    """`dvc exp run -S` of a number changes that one line of the config, reruns exactly the
    stages that read it, and leaves Snakemake nothing to do; a text value (never templated into
    a command: it is written in, quoted) rewrites the pipeline first, like a change of shape."""
    repo = tmp_path / "repo"
    shutil.copytree(built, repo, symlinks=True)
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "built", "--allow-empty"], repo)
    before = (repo / "config/smoke.yaml").read_text()
    result = run(["dvc", "exp", "run", PIPELINE, "-S", "config/smoke.yaml:convergence.permutations=19"], repo,
                 timeout=1200)
    ran = _stages_run(result)
    # the guard first (the config changed, the DAG did not), then only what reads the value, then
    # the record of what DVC ran in Snakemake's metadata
    assert ran[0] == "pipeline" and ran[-1] == "snakemake-metadata", ran
    assert ran[1:-1] and all(n.startswith("unit_matching--") or n in ("matching_summary", "figure_matching")
                             for n in ran[1:-1]), ran
    after = (repo / "config/smoke.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines()) and len(changed) == 1, changed
    assert planned_jobs(repo, *SMOKE) == {}  # Snakemake has nothing to do after DVC's run
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    values = [e["data"]["params"]["config/smoke.yaml"]["data"]["convergence"]["permutations"]
              for rev in shown for exp in (rev.get("experiments") or []) for e in exp["revs"]]
    assert 19 in values
    label = run(["dvc", "exp", "run", PIPELINE, "-S", "config/smoke.yaml:label=relabelled"], repo, check=False)
    assert label.returncode != 0 and _stages_run(label) == ["pipeline"]
    assert "--label relabelled" in (repo / PIPELINE).read_text()


def _stages_run(result) -> list[str]:
    # (DVC names a stage of a pipeline outside the root "pipelines/smoke/dvc.yaml:STAGE")
    return [name.split(":", 1)[-1] for name in re.findall(r"Running stage '([^']+)'", result.stdout + result.stderr)]


def test_dvc_exp_run_with_more_seeds_rewrites_the_pipeline_then_runs_only_what_is_new(built, tmp_path):
    """A value that changes the DAG's shape: the guard stage rewrites dvc.yaml and stops DVC
    before any other stage; the next run has exactly the new seed's stages and the summaries
    over seeds to run, nothing of seeds 0 and 1."""
    repo = tmp_path / "repo"
    shutil.copytree(built, repo, symlinks=True)
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "built", "--allow-empty"], repo)
    result = run(["dvc", "exp", "run", PIPELINE, "-S", "config/smoke.yaml:models.seeds=[0,1,2]"], repo, check=False)
    assert result.returncode != 0 and _stages_run(result) == ["pipeline"]
    assert "rewrote it: run the same `dvc exp run`" in result.stderr and "stages added" in result.stderr
    run([sys.executable, "workflow/scripts/export_dvc.py", "--configfile", "config/smoke.yaml", "--check"], repo)
    status = json.loads(run(["dvc", "status", PIPELINE, "--json"], repo).stdout)
    stale = {name.split(":", 1)[-1] for name in status}
    assert {"train--hmo-supervised-2", "initialise--alexnet-2", "convergence"} <= stale
    assert not {"train--hmo-supervised-0", "train--alexnet-supervised-1", "stimuli--train"} & stale, stale


def test_dvc_exp_run_on_the_default_pipeline(built, tmp_path):
    """The root dvc.yaml (config/config.yaml): `dvc exp run -S` of the seeds, twice (the first
    rewrites the pipeline), is recorded as an experiment and shown by `dvc params diff`; `dvc
    metrics show` finds the leaderboard. Only the guard stage is run: the default experiment
    takes minutes to build, so the leaderboard shown is the smoke run's (the same command's
    output at toy size), put where the default pipeline declares its metrics."""
    repo = copy_repo(tmp_path, pipelines=())
    seeds = "config/config.yaml:models.seeds=[0,1,2,3]"
    first = run(["dvc", "exp", "run", "dvc.yaml:pipeline", "-S", seeds], repo, check=False)
    assert first.returncode != 0 and "dvc.yaml: config/config.yaml or the workflow changed" in first.stderr
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    assert {"train--hmo-supervised-3", "train--alexnet-supervised-3"} <= set(stages)
    run(["dvc", "exp", "run", "dvc.yaml:pipeline", "-S", seeds], repo)
    diff = json.loads(run(["dvc", "params", "diff", "--json"], repo).stdout)["config/config.yaml"]
    # (DVC prints a list-valued parameter as its text)
    assert {k: yaml.safe_load(str(v)) for k, v in diff["models.seeds"].items()} == {"old": [0, 1, 2], "new": [0, 1, 2, 3]}
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo).stdout)
    seeds_shown = [yaml.safe_load(str(e["data"]["params"]["config/config.yaml"]["data"]["models"]["seeds"]))
                   for rev in shown for exp in (rev.get("experiments") or []) for e in exp["revs"]]
    assert [0, 1, 2, 3] in seeds_shown, seeds_shown
    board = "results/summary/leaderboard.json"
    assert stages["leaderboard"]["metrics"] == [board]
    (repo / board).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(built / "results/smoke/summary/leaderboard.json", repo / board)
    metrics = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    files = next(iter(metrics.values()))["data"]
    data = next(v for k, v in files.items() if k.endswith(board))["data"]
    assert data["simulated"]["IT"]["hmo/supervised"]["rank"] >= 1
