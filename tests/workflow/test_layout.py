"""The project's own files agree with each other."""

import ast
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from goaldriven.core.registry import schema_enums
from workflow_helpers import REPO, copy_repo, run

# conda-forge names of the same packages
CONDA_NAMES = {"torch": "pytorch", "netCDF4": "netcdf4"}
WORKFLOW_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "dvc"}  # run the DAG, not inside rules


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ]", req, maxsplit=1)[0]


def test_rule_environment_matches_pyproject():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((REPO / "envs/goaldriven.yaml").read_text())["dependencies"]
    pip = next(d["pip"] for d in env if isinstance(d, dict))  # PyPI-only packages, and the package itself
    conda = {_name(d) for d in env if isinstance(d, str)} - {"python", "pip"}
    conda |= {_name(d) for d in pip if not d.startswith("-e")}
    expected = {CONDA_NAMES.get(_name(d), _name(d)) for d in deps} - WORKFLOW_ONLY
    assert conda == expected


def test_ci_runs_exactly_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_cmd = next(b for b in blocks if "pytest" in b)
    assert test_cmd.strip() in (REPO / ".ci/run").read_text()


@pytest.mark.parametrize("name", ["config.yaml", "smoke.yaml", "real.yaml", "real_small.yaml", "real_cpu.yaml",
                                  "real_cpu_objects.yaml"])
def test_configs_follow_the_schema(name):
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    for key, values in schema_enums().items():  # the names goaldriven declares, as config.smk fills them in
        schema["$defs"][key]["enum"] = values
    jsonschema.validate(yaml.safe_load((REPO / "config" / name).read_text()), schema)
    bad = yaml.safe_load((REPO / "config" / name).read_text())
    bad["models"]["archs"] = ["nonet"]  # a name the registry does not declare
    with pytest.raises(jsonschema.ValidationError, match="nonet"):
        jsonschema.validate(bad, schema)


def test_a_bad_config_is_refused_with_a_clear_message(tmp_path):
    repo = copy_repo(tmp_path)
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["models"]["seeds"] = [0]  # convergence needs at least two seeds
    (repo / "config/bad.yaml").write_text(yaml.safe_dump(cfg))
    result = run(["snakemake", "-n", "--configfile", "config/bad.yaml"], repo, check=False)
    assert result.returncode != 0
    assert "seeds" in result.stdout + result.stderr


def _imports(path: Path) -> set[str]:
    """Modules of the package a file imports (relative imports at any depth, lazy ones too), as
    dotted names under goaldriven (``compare.ridge``)."""
    return _imports_of(ast.walk(ast.parse(path.read_text())), path)


def _imports_of(nodes, path: Path) -> set[str]:
    package = REPO / "src/goaldriven"
    here = path.relative_to(package).with_suffix("").parts[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[:len(here) - node.level + 1])
            if node.module:
                found.add(".".join(base + node.module.split(".")))
            else:
                found |= {".".join(base + [a.name]) for a in node.names}
    return found


# The engine's subpackages in the order data flow through them (stimuli -> recordings ->
# models/training -> features -> mapping, RSA, similarity -> summary -> figures; provenance at
# the edge). A subpackage may import only itself and earlier ones: the flow is one way.
LAYERS = ["core", "data", "models", "compare", "study", "provenance", "api", "cli", "__main__"]


def _subpackage(path: Path) -> str:
    return path.relative_to(REPO / "src/goaldriven").with_suffix("").parts[0]


def test_package_imports_flow_one_way():
    files = [p for p in (REPO / "src/goaldriven").rglob("*.py") if "__pycache__" not in p.parts]
    found = {_subpackage(p) for p in files} - {"__init__"}
    assert found <= set(LAYERS), f"place {sorted(found - set(LAYERS))} in LAYERS"
    upward = [f"{p.name} ({_subpackage(p)}) imports {t}" for p in files if _subpackage(p) in LAYERS
              for t in _imports(p) if t and LAYERS.index(t.split(".")[0]) > LAYERS.index(_subpackage(p))]
    assert not upward, upward
    # The engine knows nothing of the workflow that runs it.
    assert not [p for p in files if re.search(r"^\s*(import|from) snakemake", p.read_text(), re.M)]


def _module_file(dotted: str) -> Path | None:
    package = REPO / "src/goaldriven"
    for candidate in (package / (dotted.replace(".", "/") + ".py"), package / dotted.replace(".", "/") / "__init__.py"):
        if candidate.is_file():
            return candidate
    parent = dotted.rpartition(".")[0]  # `from .x import name` where name is not a module
    return _module_file(parent) if parent else None


def test_each_command_declares_the_code_it_runs():
    """A rule's code inputs are the subpackages the registry declares for its command (cli_code):
    every package module the command's handler reaches, at any depth, lies in them."""
    from goaldriven.core.registry import COMMANDS

    package = REPO / "src/goaldriven"
    checked = 0
    for name, command in COMMANDS.items():
        if not command.job:  # not run by a workflow rule
            continue
        group, _, function = command.handler.partition(":")
        cli_file = package / "cli" / f"{group}.py"
        tree = ast.parse(cli_file.read_text())
        handler = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function)
        # What the handler runs: the module's top-level imports and the handler's own.
        nodes = [n for n in tree.body if isinstance(n, ast.ImportFrom)] + list(ast.walk(handler))
        todo, seen = [f for f in map(_module_file, _imports_of(nodes, cli_file)) if f is not None], {cli_file}
        while todo:
            path = todo.pop()
            if path not in seen:
                seen.add(path)
                todo += [f for f in map(_module_file, _imports(path)) if f is not None]
        package = REPO / "src/goaldriven"
        dotted = {".".join(p.relative_to(package).with_suffix("").parts) for p in seen}
        declared = {"core", "cli", *command.code}
        extra = {d for d in dotted if d.split(".")[0] not in declared and d not in declared
                 and not d.endswith("__init__")}
        assert not extra, f"goaldriven {name} reaches {sorted(extra)}, not declared in its code"
        checked += 1
    assert checked > 15
