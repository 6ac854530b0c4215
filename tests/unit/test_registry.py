"""Each name goaldriven offers is declared once (goaldriven.core.registry), and every declared
name has its implementation: the zoo builds each architecture with the declared layers, each
figure's function takes the declared inputs, each importer, scoring method and criterion exists."""

import inspect

import pytest

from goaldriven.core import registry
from goaldriven.core.options import CRITERIA, METHODS


@pytest.mark.parametrize("arch", list(registry.ARCHITECTURES))
def test_each_architecture_is_built_with_its_declared_layers(arch):
    from goaldriven.models.zoo import FACTORIES, build_model

    assert set(FACTORIES) == set(registry.ARCHITECTURES)
    assert tuple(build_model(arch, 10, 0.25).layer_names) == registry.ARCHITECTURES[arch].layers


def test_each_figure_function_takes_its_declared_inputs():
    from goaldriven.study.figures import PLOTS

    assert set(PLOTS) == set(registry.FIGURES)
    for name, spec in registry.FIGURES.items():
        params = {p.name: p for p in inspect.signature(PLOTS[name]).parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in ("out_png", "data_label")}
        assert tuple(params) == spec.inputs, name
        assert {k for k, p in params.items() if p.default is not p.empty} == set(spec.optional), name


def test_each_importer_scoring_method_and_criterion_is_implemented():
    from goaldriven.compare import ridge
    from goaldriven.compare.methods import METHOD_CLASSES
    from goaldriven.data.importers import IMPORTERS

    assert set(IMPORTERS) == set(registry.IMPORTERS)
    assert set(METHOD_CLASSES) == set(METHODS) and all(METHOD_CLASSES[m].name == m for m in METHODS)
    assert ridge.CRITERIA is CRITERIA


def test_each_command_has_its_handler_and_each_path_option_a_role():
    from goaldriven.cli import handler

    for name, command in registry.COMMANDS.items():
        assert callable(handler(command)), name
        flags = [o.flag for o in command.options]
        assert len(flags) == len(set(flags)), name
        assert command.paths(registry.WRITE) or command.paths(registry.WRITE_DIR) or not command.job, name


def test_model_kinds_name_their_tasks_and_controls():
    for kind in registry.MODEL_KINDS.values():
        assert kind.task in registry.TASKS
        assert kind.untrained is None or registry.MODEL_KINDS[kind.untrained].task == "untrained"
