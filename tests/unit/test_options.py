"""One definition per option group: each group's fields are its config keys, its command-line
options and its Python arguments, under one name, with the schema's defaults."""

from dataclasses import MISSING, asdict, fields

import pytest
import yaml

from goaldriven import cli
from goaldriven.core.options import FeatureSpec, NumericsSpec, ScoringSpec, TrainConfig, flag, from_args
from goaldriven.core.registry import schema_enums
from workflow_helpers import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
for _name, _values in schema_enums().items():  # as workflow/rules/config.smk does
    SCHEMA["$defs"][_name]["enum"] = _values


def _section(name):
    return SCHEMA["properties"][name]["properties"]


def _enum(prop):
    enum = SCHEMA["$defs"][prop["$ref"].split("/")[-1]].get("enum") if "$ref" in prop else prop.get("enum")
    return tuple(enum) if enum else None


@pytest.mark.parametrize("group, section", [(FeatureSpec, "features"), (ScoringSpec, "comparison")])
def test_config_keys_are_the_fields_with_the_same_defaults(group, section):
    names = [f.name for f in fields(group)]
    props = _section(section)
    assert set(names) <= set(props)
    if group is FeatureSpec:
        assert sorted(names) == sorted(props)  # every key of the section
    for f in fields(group):
        if "default" in props[f.name]:
            assert props[f.name]["default"] == f.default, f.name
        if _enum(props[f.name]):
            assert _enum(props[f.name]) == f.metadata["choices"], f.name


def test_the_numerics_key_is_the_option_with_the_same_default():
    prop = SCHEMA["properties"]["numerics"]
    (f,) = fields(NumericsSpec)
    assert prop["default"] == f.default and _enum(prop) == f.metadata["choices"]


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
    from goaldriven.compare.convergence import UNIT_DEFAULT, UNIT_KINDS

    schema = _section("convergence")["unit"]
    assert schema["default"] == UNIT_DEFAULT and _enum(schema) == UNIT_KINDS
    for command in ("matching", "unit-examples"):
        action = next(a for a in _parser(command)._actions if "--unit" in a.option_strings)
        assert action.default == UNIT_DEFAULT and tuple(action.choices) == UNIT_KINDS, command


def test_a_parsed_command_line_gives_the_group_back():
    args = cli.build_parser().parse_args(
        ["trajectory", "--models", "m", "--stimuli", "s", "--recordings", "r", "--out", "o", "--splits", "4",
         "--method", "pls", "--projection-seed", "7", "--pooling", "avg", "--pool-grid", "2"])
    assert from_args(ScoringSpec, args) == ScoringSpec(splits=4, method="pls")
    assert asdict(from_args(FeatureSpec, args)) == asdict(FeatureSpec(pooling="avg", pool_grid=2,
                                                                          projection_seed=7))
    train = cli.build_parser().parse_args(["train", "--arch", "hmo", "--seed", "2", "--epochs", "3",
                                           "--dataset", "d", "--out", "o", "--label-smoothing", "0.1"])
    assert from_args(TrainConfig, train) == TrainConfig("hmo", 2, 3, label_smoothing=0.1)


def test_the_projection_seed_has_one_name(capsys):
    with pytest.raises(SystemExit):  # the old spelling is gone, not an alias
        cli.build_parser().parse_args(["features", "--weights", "w", "--stimuli", "s", "--model-id", "m",
                                       "--out", "o", "--seed", "3"])
    assert "--seed" in capsys.readouterr().err
    assert FeatureSpec(projection_seed=3).attrs()["projection_seed"] == 3


def test_bad_values_are_refused_naming_the_option():
    from goaldriven.core.io import InputError

    with pytest.raises(InputError, match="comparison method 'svm'"):
        ScoringSpec(method="svm")
    with pytest.raises(InputError, match="pool_grid"):
        FeatureSpec(pool_grid=0)


def test_rules_take_no_defaults_of_their_own():
    """Defaults live in the schema: the rules read the validated config, never .get(key, default),
    and a config section reaches a command whole, through options()."""
    rules = {p.name: p.read_text() for p in (REPO / "workflow/rules").glob("*.smk") if p.name != "config.smk"}
    assert len(rules) >= 8
    assert not [name for name, text in rules.items() if ".get(" in text and name not in ("common.smk", "dvc.smk")]
    for rule in ("features.smk", "compare.smk"):
        assert 'config["features"]' not in rules[rule], rule  # passed through options("features")
