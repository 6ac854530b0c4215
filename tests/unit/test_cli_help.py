"""`goaldriven COMMAND --help` describes every option, its default, and the valid values."""

import argparse
import subprocess
import sys

import pytest

from goaldriven import cli
from goaldriven.core.registry import ARCHITECTURES


def _commands():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices


def test_every_option_of_every_command_has_help():
    parser, commands = _commands()
    for name, s in [("goaldriven", parser), *commands.items()]:
        assert s.description, name
        for action in s._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help and action.help.strip(), f"{name} {action.option_strings or action.dest}"


def test_help_shows_defaults_and_valid_values():
    _, commands = _commands()
    text = commands["features"].format_help()
    assert "(default: 128)" in text and "(default: sparse)" in text
    train = commands["train"].format_help()
    assert all(arch in train for arch in ARCHITECTURES) and "autoencoder" in train
    assert "layer_profiles" in commands["figure"].format_help()


@pytest.mark.parametrize("command", ["train", "features", "score-model", "import"])
def test_help_runs_from_the_command_line(command):
    out = subprocess.run([sys.executable, "-m", "goaldriven.cli", command, "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "options:" in out and "(required)" in out


def test_bad_input_is_one_line_and_verbose_shows_the_traceback(tmp_path, capsys):
    args = ["figure", "cka", "--input", f"similarity_csv={tmp_path / 'missing.csv'}", "--out", str(tmp_path / "f.png")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.csv" in err and "Traceback" not in err
    from goaldriven.core.io import InputError

    with pytest.raises((InputError, FileNotFoundError)):
        cli.main(["-v", *args])  # -v: the exception itself, with its traceback


def test_commands_of_the_workflow_extra_say_how_to_install_it(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "rocrate" else real(name, *a))
    assert cli.main(["crate", str(tmp_path / "crate")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'goaldriven[workflow]'" in err and "rocrate" in err
    assert not (tmp_path / "crate").exists()
