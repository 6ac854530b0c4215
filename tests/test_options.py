"""One definition per option group (issue #17, item 1): each group's fields are its config keys,
its command-line options and its Python arguments, under one name, with the schema's defaults."""

import ast
import re
from dataclasses import MISSING, asdict, fields

import pytest
import yaml

from goaldriven import cli, ridge
from goaldriven.options import CRITERIA, FeatureSpec, ScoringSpec, TrainConfig, flag
from workflow_helpers import REPO, rule_bodies

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
COMMON = (REPO / "workflow/rules/common.smk").read_text()


def _section(name):
    return SCHEMA["properties"][name]["properties"]


def _scoring_keys():
    return ast.literal_eval(re.search(r"^SCORING = (\(.*?\))$", COMMON, re.M).group(1))


@pytest.mark.parametrize("group, section, keys", [
    (FeatureSpec, "features", None),  # every key of the section
    (ScoringSpec, "comparison", "SCORING"),  # the keys common.smk's SCORING passes
])
def test_config_keys_are_the_fields_with_the_same_defaults(group, section, keys):
    names = [f.name for f in fields(group)]
    props = _section(section)
    if keys is None:
        assert sorted(names) == sorted(props)
    else:
        assert _scoring_keys() == (section, *names)
        assert set(names) <= set(props)
    for f in fields(group):
        if "default" in props[f.name]:
            assert props[f.name]["default"] == f.default, f.name
        if "enum" in props[f.name]:
            assert tuple(props[f.name]["enum"]) == f.metadata["choices"], f.name


def test_criteria_are_the_ridge_solvers():
    assert CRITERIA == tuple(ridge.CRITERIA)


def _parser(command):
    sub = next(a for a in cli.build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices[command]


@pytest.mark.parametrize("command, groups", [
    ("features", [FeatureSpec]), ("score", [ScoringSpec]), ("score-model", [ScoringSpec, FeatureSpec]),
    ("trajectory", [ScoringSpec, FeatureSpec]), ("train", [TrainConfig]),
])
def test_commands_take_each_field_under_its_own_name_and_default(command, groups):
    options = {a.option_strings[0]: a for a in _parser(command)._actions if a.option_strings}
    for group in groups:
        for f in fields(group):
            action = options[flag(f.name)]
            assert action.dest == f.name
            assert action.required if f.default is MISSING else action.default == f.default, f.name
            assert action.help == f.metadata["help"] or action.help.startswith(f.metadata["help"]), f.name


def test_the_unit_of_matching_has_one_default():
    from goaldriven.convergence import UNIT_DEFAULT, UNIT_KINDS

    schema = _section("convergence")["unit"]
    assert schema["default"] == UNIT_DEFAULT and tuple(schema["enum"]) == UNIT_KINDS
    for command in ("matching", "unit-examples"):
        action = next(a for a in _parser(command)._actions if "--unit" in a.option_strings)
        assert action.default == UNIT_DEFAULT and tuple(action.choices) == UNIT_KINDS, command


def test_a_parsed_command_line_gives_the_group_back():
    args = cli.build_parser().parse_args(
        ["trajectory", "--models", "m", "--stimuli", "s", "--recordings", "r", "--out", "o", "--splits", "4",
         "--method", "pls", "--projection-seed", "7", "--pooling", "avg", "--pool-grid", "2"])
    assert cli.from_args(ScoringSpec, args) == ScoringSpec(splits=4, method="pls")
    assert asdict(cli.from_args(FeatureSpec, args)) == asdict(FeatureSpec(pooling="avg", pool_grid=2,
                                                                          projection_seed=7))
    train = cli.build_parser().parse_args(["train", "--arch", "hmo", "--seed", "2", "--epochs", "3",
                                           "--dataset", "d", "--out", "o", "--label-smoothing", "0.1"])
    assert cli.from_args(TrainConfig, train) == TrainConfig("hmo", 2, 3, label_smoothing=0.1)


def test_the_projection_seed_has_one_name(capsys):
    with pytest.raises(SystemExit):  # the old spelling is gone, not an alias
        cli.build_parser().parse_args(["features", "--weights", "w", "--stimuli", "s", "--model-id", "m",
                                       "--out", "o", "--seed", "3"])
    assert "--seed" in capsys.readouterr().err
    assert FeatureSpec(projection_seed=3).attrs()["projection_seed"] == 3


def test_bad_values_are_refused_naming_the_option():
    from goaldriven.io import InputError

    with pytest.raises(InputError, match="comparison method 'svm'"):
        ScoringSpec(method="svm")
    with pytest.raises(InputError, match="pool_grid"):
        FeatureSpec(pool_grid=0)


def test_rules_take_no_defaults_of_their_own():
    """Defaults live in the schema: the rules read the validated config, never .get(key, default)."""
    bodies = {name: body for name, body in rule_bodies() if name}
    assert len(bodies) > 20 and "score" in bodies
    assert not [name for name, body in bodies.items() if ".get(" in body]
    for rule in ("features.smk", "compare.smk"):
        text = (REPO / "workflow/rules" / rule).read_text()
        assert 'config["features"]' not in text, rule  # passed through options("features")


def test_every_extra_help_text_names_a_real_option():
    for (command, option) in cli._HELP:
        if command is None:
            continue
        parser = _parser(command)
        names = {a.option_strings[-1] if a.option_strings else a.dest for a in parser._actions}
        assert option in names, (command, option)
