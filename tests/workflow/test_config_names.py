"""Unknown benchmark and layer names in a config are refused when the Snakefile is parsed, before
any job runs, naming the config key (issue #14, should-fix)."""

import hashlib
import os

import pytest
import yaml

from workflow_helpers import copy_repo, run


def snapshot(repo):
    """Every file outside .git and .snakemake (to show a refused run changed nothing)."""
    return {p.relative_to(repo).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in repo.rglob("*") if p.is_file() and not {".git", ".snakemake"} & set(p.relative_to(repo).parts)}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"))


BAD = {
    "trajectory_benchmark": (lambda c: c["models"].update(trajectory_benchmark="kalfas"),
                             "models.trajectory_benchmark is 'kalfas'"),
    "convergence_benchmark": (lambda c: c["convergence"].update(benchmark="nope"), "convergence.benchmark is 'nope'"),
    "examples_layer": (lambda c: c["convergence"]["examples"].update(layer="conv9"),
                       "convergence.examples.layer is 'conv9'"),
    "examples_arch": (lambda c: c["convergence"]["examples"].update(arch="vgg"), "convergence.examples.arch is 'vgg'"),
    "surrogate_layer": (lambda c: c["surrogate"].update(it_layer="stage9"), "surrogate.it_layer is 'stage9'"),
    # Epochs per architecture: every trained architecture needs its own, and the kept epochs lie
    # before the fewest of them.
    "epochs_missing": (lambda c: c["models"].update(epochs={"hmo": 2}), "models.epochs gives no epochs for ['alexnet']"),
    "epochs_keep": (lambda c: c["models"].update(epochs={"hmo": 3, "alexnet": 1}),
                    "models.keep_epochs must lie between 0 and models.epochs"),
}


def test_epochs_per_architecture_reach_each_training_command(repo):
    config = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    config["models"]["epochs"] = {"hmo": 3, "alexnet": 2}
    path = repo / "epochs_per_arch.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run(["snakemake", "-n", "-p", "--cores", "1", "--configfile", path.name], repo)
    commands = [line for line in result.stdout.splitlines() if " train --arch " in line and "--task supervised" in line]
    assert commands and all(("--epochs 3 " if "--arch hmo " in c else "--epochs 2 ") in c for c in commands)


@pytest.mark.parametrize("case", sorted(BAD))
def test_unknown_names_are_refused_before_any_job_runs(repo, case):
    change, message = BAD[case]
    config = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    change(config)
    bad = repo / f"bad_{case}.yaml"
    bad.write_text(yaml.safe_dump(config))
    before = snapshot(repo)
    result = run(["snakemake", "-n", "--cores", "1", "--configfile", bad.name], repo, check=False)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout, result.stderr[-2000:]
    assert snapshot(repo) == before and not (repo / "results").exists()


def test_the_shipped_configs_pass(repo):
    for name in sorted(os.listdir(repo / "config")):
        result = run(["snakemake", "-n", "--cores", "1", "--configfile", f"config/{name}"], repo, check=False)
        assert "config:" not in result.stderr, (name, result.stderr[-2000:])


def _image_folder_config(repo, per_class):
    """The smoke config trained on a tiny image folder (2 classes x 3 train images) instead."""
    from PIL import Image

    for cls in ("cats", "dogs"):
        (repo / "tiny/train" / cls).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            Image.new("RGB", (32, 32), (40 * i, 0, 0)).save(repo / "tiny/train" / cls / f"{i}.png")
    config = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    config["training"] = {"dataset": "image-folder", "source": "tiny", "per_class": {"train": per_class, "test": 0},
                          "size": 32, "seed": 0}
    config["neural"] = {"mine": {"importer": "assembly", "source": "mine"}}
    config["convergence"].pop("benchmark", None)
    config["models"].pop("trajectory_benchmark", None)
    config.pop("surrogate", None)
    config.pop("stimuli", None)
    return config


@pytest.mark.parametrize("case", ["per_class", "width"])
def test_asking_more_than_the_data_hold_or_a_missing_width_is_refused_before_any_job(repo, case):
    config = _image_folder_config(repo, per_class=4 if case == "per_class" else 3)
    if case == "width":
        config["models"]["width"] = {"hmo": 0.25}  # alexnet is in models.archs too
    bad = repo / f"bad_{case}.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = run(["snakemake", "-n", "--cores", "1", "--configfile", bad.name], repo, check=False)
    assert result.returncode != 0
    message = {"per_class": "training.per_class.train is 4, but tiny holds only 3 train images of class 'cats'",
               "width": "models.width gives no width for ['alexnet']"}[case]
    assert message in result.stderr + result.stdout, (result.stderr + result.stdout)[-2000:]
    assert not (repo / "results").exists()
