"""Nothing typed into a config runs as code: every config value and path reaches a command as
one quoted word, in Snakemake's jobs and in the generated dvc.yaml alike (issue #25, item 7)."""

import shlex
import shutil

import pytest
import yaml

from workflow_helpers import PIPELINE, SMOKE, copy_repo, run

LABEL = "x' --out results/smoke/figures/montage.png; touch PWNED; echo '"
FACTORY_FILE = "examples/m$(touch PWNED2).py"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A copy of the repository whose smoke config holds a hostile label and an external model
    whose factory file name is shell code."""
    repo = copy_repo(tmp_path_factory.mktemp("hostile"), pipelines=("smoke",))
    shutil.copy(repo / "examples/my_model.py", repo / FACTORY_FILE)
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["label"] = LABEL
    cfg["models"]["external"] = [{"name": "mine", "factory": f"{FACTORY_FILE}:build", "layers": ["conv1", "fc"],
                                  "input_size": 48}]
    (repo / "config/smoke.yaml").write_text(yaml.safe_dump(cfg))
    run(["python", "workflow/scripts/export_dvc.py", *SMOKE], repo)
    return repo


def _words(cmd: str) -> list[str]:
    return shlex.split(cmd.split(" && ", 1)[-1].split(" > ")[0])


def test_every_value_is_one_word_of_every_command(hostile):
    stages = yaml.safe_load((hostile / PIPELINE).read_text())["stages"]
    figures = [st["cmd"] for st in stages.values() if st["meta"]["rule"].startswith("figure_")]
    assert figures and all(_words(c)[_words(c).index("--label") + 1] == LABEL for c in figures)
    external = [st["cmd"] for st in stages.values() if st["meta"]["rule"] == "external_model"]
    assert external and _words(external[0])[_words(external[0]).index("--model") + 1] == f"{FACTORY_FILE}:build"
    printed = run(["snakemake", "-n", "-p", "--cores", "1", *SMOKE], hostile).stdout
    assert "touch PWNED" in printed  # the value is there, as a quoted word


@pytest.mark.slow
def test_snakemake_and_dvc_run_no_config_value_as_code(hostile):
    run(["snakemake", "--cores", "2", "results/smoke/figures/montage.png",
         "results/smoke/models/mine/external_seed0/metrics.json", *SMOKE], hostile)
    assert (hostile / "results/smoke/figures/montage.png").is_file()
    assert not (hostile / "PWNED").exists() and not (hostile / "PWNED2").exists()
    run(["dvc", "repro", "--force", "--single-item", f"{PIPELINE}:figure_montage"], hostile)
    run(["dvc", "repro", "--force", "--single-item", f"{PIPELINE}:external_model--mine"], hostile)
    assert not (hostile / "PWNED").exists() and not (hostile / "PWNED2").exists()
