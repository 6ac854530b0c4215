"""`dvc exp run -S key=value` writes the config file through DVC's own YAML writer: each config is
written in that writer's style (lists in block style, values within its line width), so that
setting one value changes that one line and nothing else (comments and layout kept)."""

import difflib
import shutil

import pytest

from workflow_helpers import REPO

CONFIGS = sorted(p.name for p in (REPO / "config").glob("*.yaml"))


@pytest.mark.parametrize("name", CONFIGS)
def test_setting_a_value_as_dvc_does_changes_only_its_line(name, tmp_path):
    from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` calls

    path = tmp_path / name
    shutil.copy(REPO / "config" / name, path)
    before = path.read_text()
    apply_overrides(str(path), ["comparison.seed=7"])
    changed = [line for line in difflib.unified_diff(before.splitlines(), path.read_text().splitlines(),
                                                      lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 2 and changed[1][1:].strip() == "seed: 7", changed
