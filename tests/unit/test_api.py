"""The Python API works from any folder and defaults as the command line does."""

import inspect

import pytest

from goaldriven.api import benchmark_files, score, workflow_root
from goaldriven.core.io import InputError
from goaldriven.core.registry import COMMANDS
from workflow_helpers import REPO


def test_a_benchmark_name_is_looked_up_in_the_checkout_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside any checkout: goaldriven's own is used
    assert workflow_root() == REPO
    try:
        found = benchmark_files("simulated")
    except InputError as e:  # not made yet: the message names the checkout's results, not a missing config
        assert str(REPO / "results") in str(e) and "no config" not in str(e)
    else:
        assert found.stimuli == REPO / "results/stimuli/test.nc"
    with pytest.raises(InputError, match="not a benchmark folder nor a benchmark of the config"):
        benchmark_files("nope")


def test_the_api_and_the_command_line_default_to_the_same_device():
    option = next(o for o in COMMANDS["score-model"].options if o.flag == "--device")
    assert inspect.signature(score).parameters["device"].default == option.default == "auto"
