"""Config values that would write outside the repository or compute with NaN are refused when the
Snakefile is parsed, before any job runs, naming the key (issue #25, item 11)."""

import hashlib

import pytest
import yaml

from workflow_helpers import copy_repo, run


def snapshot(repo):
    """Every file outside .git and .snakemake (to show a refused run changed nothing)."""
    return {p.relative_to(repo).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in repo.rglob("*") if p.is_file() and not {".git", ".snakemake"} & set(p.relative_to(repo).parts)}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"), pipelines=("smoke",))


BAD = {
    "results_parent": (lambda c, out: c.update(results="../elsewhere"), "config: results is '../elsewhere'"),
    "results_absolute": (lambda c, out: c.update(results=str(out)), "config: results is '{out}'"),
    "logs_parent": (lambda c, out: c.update(logs="../logs"), "config: logs is '../logs'"),
    "lr_nan": (lambda c, out: c["models"].update(lr=float("nan")), "config: models.lr is nan, not a finite number"),
    "alpha_inf": (lambda c, out: c["comparison"].update(alpha_high=float("inf")),
                  "config: comparison.alpha_high is inf, not a finite number"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_outside_folders_and_nonfinite_numbers_are_refused_before_any_job(repo, case, tmp_path):
    change, message = BAD[case]
    outside = tmp_path / "outside"
    config = yaml.safe_load((repo / "config" / "smoke.yaml").read_text())
    change(config, outside)
    bad = repo / f"bad_{case}.yaml"
    bad.write_text(yaml.safe_dump(config))
    if case == "lr_nan":
        assert "lr: .nan" in bad.read_text()  # what a YAML file says
    before = snapshot(repo)
    result = run(["snakemake", "-n", "--cores", "1", "--configfile", bad.name], repo, check=False)
    assert result.returncode != 0
    assert message.format(out=outside) in result.stderr + result.stdout, (result.stderr + result.stdout)[-2000:]
    assert snapshot(repo) == before and not (repo / "results").exists() and not outside.exists()
    assert not (repo.parent / "elsewhere").exists() and not (repo.parent / "logs").exists()
