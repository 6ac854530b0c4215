"""The project's own files agree with each other."""

import re
import tomllib

import jsonschema
import pytest
import yaml

from workflow_helpers import REPO, copy_repo, run

# conda-forge names of the same packages
CONDA_NAMES = {"torch": "pytorch", "netCDF4": "netcdf4"}
WORKFLOW_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "dvc"}  # run the DAG, not inside rules


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ]", req, maxsplit=1)[0]


def test_rule_environment_matches_pyproject():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "envs/goaldriven.yaml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))  # PyPI-only packages, and the package itself
    conda = {_name(d) for d in env if isinstance(d, str)} - {"python", "pip"}
    conda |= {_name(d) for d in pip if not d.startswith("-e")}
    expected = {CONDA_NAMES.get(_name(d), _name(d)) for d in deps} - WORKFLOW_ONLY
    assert conda == expected


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd.strip() in (REPO / ".ci/run").read_text()


@pytest.mark.parametrize("name", ["config.yaml", "smoke.yaml", "real.yaml", "real_small.yaml"])
def test_configs_follow_the_schema(name):
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    jsonschema.validate(yaml.safe_load((REPO / "config" / name).read_text()), schema)


def test_a_bad_config_is_refused_with_a_clear_message(tmp_path):
    repo = copy_repo(tmp_path)
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["models"]["seeds"] = [0]  # convergence needs at least two seeds
    (repo / "config/bad.yaml").write_text(yaml.safe_dump(cfg))
    result = run(["snakemake", "-n", "--configfile", "config/bad.yaml"], repo, check=False)
    assert result.returncode != 0
    assert "seeds" in result.stdout + result.stderr
