"""Rule files formatted, GPU rules on the GPU, the DVC export on a tested snakemake, captions clean."""

import re
import shutil
import subprocess

import pytest
import yaml

from workflow_helpers import REPO, load_script, rule_bodies


def _export_dvc():
    return load_script("export_dvc")


def test_rule_files_are_snakefmt_formatted():
    assert shutil.which("snakefmt"), "snakefmt not installed (pip install -e .[test])"
    result = subprocess.run(["snakefmt", "--check", "workflow/", "Snakefile"], cwd=REPO, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def _rule_shells():
    """rule name -> its shell command text, read from the rule files."""
    shells = {}
    for name, body in rule_bodies():
        shell = re.search(r"shell:\s*\n(.*)", body, flags=re.S)
        if name and shell:
            shells[name] = shell.group(1)
    return shells


def test_gpu_rules_of_the_cluster_profile_run_on_the_gpu():
    profile = yaml.safe_load((REPO / "cluster/config.yaml").read_text())
    gpu_rules = [r for r, res in profile["set-resources"].items() if res.get("gpu")]
    shells = _rule_shells()
    assert {"features", "trajectory_model"} <= set(gpu_rules)
    for rule in gpu_rules:
        assert rule in shells, rule
        # train: --device auto is the train command's default; the others must say so.
        assert "--device auto" in shells[rule] or rule in ("train", "train_surrogate"), rule


def test_export_dvc_refuses_an_untested_snakemake():
    export = _export_dvc()
    export.check_snakemake_version()  # the installed one is in the tested range
    with pytest.raises(SystemExit, match="untested"):
        export.check_snakemake_version("9.0.0")


def test_pyproject_pins_the_snakemake_range_export_dvc_was_tested_with():
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["workflow"]
    (pin,) = [d for d in deps if d.startswith("snakemake") and not d.startswith("snakemake-")]
    assert pin.split("#")[0].strip() == "snakemake" + _export_dvc().TESTED_SNAKEMAKE
