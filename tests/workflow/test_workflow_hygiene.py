"""Rule files formatted, GPU rules on the GPU, the DVC export on a tested snakemake, captions clean."""

import shutil
import subprocess

import pytest
import yaml

from workflow_helpers import REPO, load_script


def _export_dvc():
    return load_script("export_dvc")


def test_rule_files_are_snakefmt_formatted():
    assert shutil.which("snakefmt"), "snakefmt not installed (pip install -e .[test])"
    result = subprocess.run(["snakefmt", "--check", "workflow/", "Snakefile"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def _commands_by_rule(pipelines=("pipelines/smoke/dvc.yaml", "pipelines/real_cpu/dvc.yaml")):
    """rule -> the commands of its jobs, as the generated pipelines run them."""
    commands = {}
    for pipeline in pipelines:
        for stage in yaml.safe_load((REPO / pipeline).read_text())["stages"].values():
            commands.setdefault(stage["meta"]["rule"], []).append(stage["cmd"])
    return commands


def test_gpu_rules_of_the_cluster_profile_run_on_the_gpu():
    profile = yaml.safe_load((REPO / "cluster/config.yaml").read_text())
    gpu_rules = [r for r, res in profile["set-resources"].items() if res.get("gpu")]
    commands = _commands_by_rule()
    assert {"features", "trajectory_model"} <= set(gpu_rules)
    for rule in gpu_rules:
        assert rule in commands, rule
        # train: --device auto is the train command's default; the others must say so.
        assert all("--device auto" in c for c in commands[rule]) or rule in ("train", "train_surrogate"), rule


def test_export_dvc_refuses_an_untested_snakemake():
    export = _export_dvc()
    export.check_snakemake_version()  # the installed one is in the tested range
    for version in ("8.30.0", "10.0.0"):
        with pytest.raises(SystemExit, match="untested"):
            export.check_snakemake_version(version)


def test_pyproject_pins_the_snakemake_range_export_dvc_was_tested_with():
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["workflow"]
    (pin,) = [d for d in deps if d.startswith("snakemake") and not d.startswith("snakemake-")]
    assert pin.split("#")[0].strip() == "snakemake" + _export_dvc().TESTED_SNAKEMAKE
