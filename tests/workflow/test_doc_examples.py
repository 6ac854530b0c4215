"""docs/own-model.md, "Use it with your own model / recordings / benchmark": every example runs as written."""

import re
import sys

import jsonschema
import pytest
import yaml

from builders import brainio_assembly, brainio_write_netcdf, write_stimuli
from workflow_helpers import REPO, SHARED, copy_repo, planned_jobs, run

PAGE = "docs/own-model.md"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)\n```", (REPO / PAGE).read_text(), flags=re.S)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    assert (SHARED / "kalfas2017_it").is_dir(), "Kalfas data missing (see data/README.md)"
    repo = copy_repo(tmp_path_factory.mktemp("readme"))
    (repo / "my_benchmark").mkdir()
    brainio_write_netcdf(brainio_assembly(n_images=40), repo / "my_benchmark/assembly.nc")
    write_stimuli(repo / "my_benchmark", n_images=40)  # 13+ images per object: 10 stratified folds
    return repo


def test_the_page_has_its_examples():
    # bash: two to run here, two of DVC experiments (run by tests/workflow/test_bring_your_own.py);
    # sh and yml: models by name, which download packages or weights (tests/unit/test_named_models.py
    # runs what can run offline), so never run here.
    assert len(_blocks("bash")) == 2 and len(_blocks("python")) == 1 and len(_blocks("yaml")) == 2
    assert len(_blocks("sh")) == 1 and len(_blocks("yml")) == 1
    assert all(name in _blocks("sh")[0] for name in ("hf:", "torchvision:")) and "torchvision:" in _blocks("yml")[0]


@pytest.mark.real_data
def test_shell_and_python_examples_run(repo):
    bash = _blocks("bash")
    for block in bash:
        out = run(["bash", "-ec", block.replace("../shared/data", str(SHARED))], repo).stdout
        assert re.search(r"^\s*conv2\s+IT\s", out, flags=re.M), out
    (repo / "example.py").write_text(_blocks("python")[0])
    out = run([sys.executable, "example.py"], repo).stdout
    assert "conv1" in out and "IT" in out
    assert (repo / "results/my_model_on_mine/scores.csv").is_file()


@pytest.mark.real_data
def test_config_examples_join_the_dag(repo):
    config = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    for block in _blocks("yaml"):
        for key, value in yaml.safe_load(block).items():
            config[key].update(value)
    config["results"] = "dag_results"  # not the folder the shell examples above wrote into
    jsonschema.validate(config, yaml.safe_load((repo / "workflow/schemas/config.schema.yaml").read_text()))
    (repo / "config/mine.yaml").write_text(yaml.safe_dump(config))
    jobs = planned_jobs(repo, "--configfile", "config/mine.yaml")
    assert jobs["import_assembly"] == 1 and jobs["external_model"] == 1
    assert jobs["features_external"] == 2 and jobs["leaderboard"] == 1  # two benchmarks
