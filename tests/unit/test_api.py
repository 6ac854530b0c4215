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


def test_score_model_prints_what_each_number_is():
    import pandas as pd

    from goaldriven.cli.own import legend, printed

    table = pd.DataFrame({"layer": ["a", "a"], "area": ["IT", "V4"], "ev": [0.133, 0.4],
                          "ceiling_normalised": [False, True], "r": [0.3, 0.6], "rsa": [0.1, 0.2]})
    shown = printed(table)
    assert "ev" not in shown and shown["r2_raw"].tolist()[0] == 0.133 and pd.isna(shown["ev_ceiled"].tolist()[0])
    assert shown["ev_ceiled"].tolist()[1] == 0.4
    text = "\n".join(legend(table))
    assert "r2_raw" in text and "NOT ceiling-normalised" in text and "ev_ceiled" in text
    only_raw = printed(table.iloc[:1])
    assert "ev_ceiled" not in only_raw and "ev_ceiled" not in "\n".join(legend(table.iloc[:1]))
