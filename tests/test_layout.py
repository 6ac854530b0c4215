"""The project's own files agree with each other."""

import re
import tomllib

import jsonschema
import pytest
import yaml

from workflow_helpers import REPO, copy_repo, rule_bodies, run

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


@pytest.mark.parametrize("name", ["config.yaml", "smoke.yaml", "real.yaml", "real_small.yaml"])
def test_configs_follow_the_schema(name):
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    jsonschema.validate(yaml.safe_load((REPO / "config" / name).read_text()), schema)


def test_a_bad_config_is_refused_with_a_clear_message(tmp_path):
    repo = copy_repo(tmp_path)
    cfg = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    cfg["models"]["seeds"] = [0]  # convergence needs at least two seeds
    (repo / "config/bad.yaml").write_text(yaml.safe_dump(cfg))
    result = run(["snakemake", "-n", "--configfile", "config/bad.yaml"], repo, check=False)
    assert result.returncode != 0
    assert "seeds" in result.stdout + result.stderr


def _package_imports(path, level=1):
    """Package modules a module imports (relative imports at any depth, lazy ones included);
    ``level``: the dots that name the package (2 from a subpackage)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == level:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return found


@pytest.mark.parametrize("pipeline", ["dvc.yaml", "pipelines/real_small/dvc.yaml"])
def test_every_stage_depends_on_all_the_package_code_it_runs(pipeline):
    # Editing a module must rerun every stage that runs it, also one reached through another
    # module (ridge through mapping): the code a stage depends on is closed under imports.
    stages = yaml.safe_load((REPO / pipeline).read_text())["stages"]
    package = REPO / "src/goaldriven"
    checked = 0
    for name, stage in stages.items():
        deps = {d for d in stage.get("deps", []) if d.startswith("src/goaldriven/")}
        if not deps:
            continue
        modules = {d.removeprefix("src/goaldriven/").removesuffix(".py") for d in deps}
        for m in modules - {"cli"}:
            missing = _package_imports(package / f"{m}.py") - modules
            assert not missing, f"{pipeline}: stage {name} runs {m}.py but does not depend on {sorted(missing)}"
        checked += 1
    assert checked > 10
    score = next(s for n, s in stages.items() if n.startswith("score"))
    assert "src/goaldriven/ridge.py" in score["deps"]


# The engine's modules in the order data flow through them (stimuli -> recordings ->
# models/training -> features -> mapping, RSA, similarity -> summary -> figures; provenance at
# the edge). A module may import only modules of earlier layers: the flow is one way.
LAYERS = [
    {"io", "progress"},
    {"options"},
    {"ridge", "models", "stimulus_ids", "controls"},
    {"synthetic", "stimulus_sets"},
    {"assemblies"},
    {"importers", "train"},
    {"external"},
    {"features"},
    {"simulate", "mapping", "rsa"},
    {"brainscore"},
    {"score", "similarity", "convergence"},
    {"summary", "seed_variance"},
    {"leaderboard", "positive_control"},
    {"trajectory"},
    {"figures"},
    {"provenance"},  # a subpackage: lineage, crate
    {"api"},
    {"cli"},
]


def test_package_imports_flow_one_way():
    package = REPO / "src/goaldriven"
    layer = {m: i for i, group in enumerate(LAYERS) for m in group}
    # A module is a file of the package or a subpackage (its files together, importing the
    # package's modules with `from ..x`).
    files = {p.stem: [p] for p in package.glob("*.py") if p.stem != "__init__"}
    files |= {d.name: sorted(d.glob("*.py")) for d in package.iterdir() if (d / "__init__.py").is_file()}
    assert set(files) <= set(layer), f"place {sorted(set(files) - set(layer))} in LAYERS"
    imports = {m: set().union(*(_package_imports(f, level=2 if f.parent != package else 1) for f in paths))
               for m, paths in files.items()}
    upward = [f"{m} imports {d}" for m in sorted(files) for d in sorted(imports[m]) if layer[d] >= layer[m]]
    assert not upward, upward
    # The engine knows nothing of the workflow that runs it.
    assert not [m for m, paths in files.items()
                if any(re.search(r"^\s*(import|from) snakemake", f.read_text(), re.M) for f in paths)]


def test_each_rule_declares_the_code_of_the_command_it_runs():
    """A rule's code inputs are derived from the goaldriven command in its shell (cli_code),
    never a hand-written module list that can fall behind the command's imports."""
    bodies = [body for _, body in rule_bodies()]
    runs = [b for b in bodies if '"goaldriven ' in b]
    assert len(runs) > 20
    for body in runs:
        command = re.search(r'"goaldriven (?:--threads \{threads\} )?([a-z-]+)', body).group(1)
        assert re.findall(r"\bcode\((.*?)\)", body) == [] and f'cli_code("{command}")' in body, body[:200]
