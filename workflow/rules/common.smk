# Helpers shared by the rules: where files live, which models and benchmarks a config asks for,
# code dependencies. Every path is under the experiment's results folder RESULTS (config
# "results"); raw data and the DVC record are in dvc.smk.
import ast
import os
from pathlib import Path

from snakemake.exceptions import WorkflowError

RESULTS = config["results"]  # this experiment's results folder
LOGS = config["logs"]  # and its logs
ZOO_TASKS = "supervised|untrained|autoencoder|objects|untrained_objects"
ZOO_MODEL_RE = rf"surrogate|[a-z0-9]+/({ZOO_TASKS})_seed[0-9]+"
MODEL_RE = ZOO_MODEL_RE + r"|[a-z0-9]+/external_seed0"  # external models: NAME/external_seed0
EXTERNAL = {e["name"]: e for e in config["models"].get("external", [])}  # name -> models.external entry
# External models that are the package's own controls (raw pixels, the V1-like Gabor bank).
CONTROLS = [n for n, e in EXTERNAL.items() if e["factory"].startswith("goaldriven.controls:")]
# A positive-control table when trained networks have something to be compared with.
POSITIVE_CONTROL = bool(CONTROLS or "untrained" in config["models"]["tasks"] or config.get("objects"))
BENCHMARKS = config["neural"]  # name -> {importer, source}
# What each importer writes into RESULTS/neural/{benchmark}/ (the simulator writes RESULTS/recordings/).
IMPORTER_FILES = {
    "cowley-v4": ["assembly.nc", "trials.nc", "stimuli.nc"],
    "kalfas-it": ["assembly.nc", "stimuli.nc"],
    "kriegeskorte92": ["rdms.nc", "stimuli.nc"],
    "assembly": ["assembly.nc", "stimuli.nc"],  # any BrainIO-style folder (goaldriven import assembly)
}
SYNTHETIC = config["training"]["dataset"] == "synthetic"
OBJECTS = config.get("objects")  # the second training diet (procedural objects), or None
KEEP_EPOCHS = config["models"]["keep_epochs"]  # checkpoints scored along training
# The config files of this run, recorded by every job in its run manifest (goaldriven lineage).
# Set, not read (so no `envvars:`); a cluster job parses this file again and sets it there too.
os.environ.update(GOALDRIVEN_CONFIG=os.pathsep.join(map(str, workflow.overwrite_configfiles or ["config/config.yaml"])))


def benchmarks_of(*importers):
    return [b for b, spec in BENCHMARKS.items() if spec["importer"] in importers]


def one_of(names):
    """A wildcard constraint that matches exactly these names (never empty: a rule whose
    benchmarks are absent must still parse)."""
    return "|".join(names) if names else "(?!)"


PREDICTIVITY = benchmarks_of("simulate", "cowley-v4", "kalfas-it", "assembly")  # site responses
if any(not 0 < e < config["models"]["epochs"] for e in KEEP_EPOCHS):
    raise ValueError(
        "config: models.keep_epochs must lie between 0 and models.epochs (the final weights are always scored)"
    )
RDM_BENCHMARKS = benchmarks_of("kriegeskorte92")  # published RDMs only
if benchmarks_of("simulate") and not SYNTHETIC:
    raise ValueError(
        "config: the 'simulate' benchmark needs training.dataset: synthetic "
        "(its surrogate network is trained on the synthetic stimuli)"
    )


def _architecture_layers():
    """{arch: [layer names]} read from src/goaldriven/models.py without importing torch: the
    names of each factory's ``stages`` list, for the architectures in ``ARCHITECTURES``."""
    tree = ast.parse((Path(workflow.main_snakefile).parent / "src" / "goaldriven" / "models.py").read_text())
    layers, registry = {}, {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Assign)
                    and any(getattr(t, "id", None) == "stages" for t in sub.targets)
                    and isinstance(sub.value, ast.List)
                ):
                    layers[node.name] = [e.elts[0].value for e in sub.value.elts if isinstance(e, ast.Tuple)]
        elif (
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", None) == "ARCHITECTURES" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            registry = {k.value: v.id for k, v in zip(node.value.keys, node.value.values)}
    return {arch: layers.get(factory, []) for arch, factory in registry.items()}


ARCH_LAYERS = _architecture_layers()


def _check_names():
    """Benchmark and layer names the config refers to must exist: refused here, at parse time,
    naming the config key, rather than by a job hours into the run."""

    def refuse(key, value, choices, what):
        raise WorkflowError(f"config: {key} is {value!r}, not {what}; choose from {sorted(choices)}")

    for key, value, choices, what in (
        (
            "models.trajectory_benchmark",
            config["models"].get("trajectory_benchmark"),
            PREDICTIVITY,
            "a benchmark of site responses in config 'neural'",
        ),
        ("convergence.benchmark", config["convergence"].get("benchmark"), BENCHMARKS, "a benchmark in config 'neural'"),
    ):
        if value is not None and value not in choices:
            refuse(key, value, choices, what)
    width = config["models"]["width"]
    archs = set(config["models"]["archs"]) | set((OBJECTS or {}).get("archs", []))
    if isinstance(width, dict) and archs - set(width):
        raise WorkflowError(f"config: models.width gives no width for {sorted(archs - set(width))}")
    examples = config["convergence"]["examples"]
    if examples["arch"] not in config["models"]["archs"]:
        refuse("convergence.examples.arch", examples["arch"], config["models"]["archs"], "one of models.archs")
    if examples["layer"] not in ARCH_LAYERS.get(examples["arch"], []):
        refuse(
            "convergence.examples.layer",
            examples["layer"],
            ARCH_LAYERS.get(examples["arch"], []),
            f"a layer of {examples['arch']}",
        )
    if benchmarks_of("simulate"):
        surrogate = config["surrogate"]
        if surrogate["arch"] not in ARCH_LAYERS:
            refuse("surrogate.arch", surrogate["arch"], ARCH_LAYERS, "an architecture")
        for key in ("v4_layer", "it_layer"):
            if surrogate[key] not in ARCH_LAYERS[surrogate["arch"]]:
                refuse(
                    f"surrogate.{key}",
                    surrogate[key],
                    ARCH_LAYERS[surrogate["arch"]],
                    f"a layer of {surrogate['arch']}",
                )


_check_names()


def _image_counts(source):
    """{split: {class: number of images}} of an image folder or .tar.gz (names only; no decoding)."""
    import tarfile

    suffixes = (".jpg", ".jpeg", ".png", ".bmp")
    if source.is_dir():
        names = [str(p.relative_to(source)) for p in source.rglob("*") if p.suffix.lower() in suffixes]
    else:
        with tarfile.open(source) as tar:
            names = [m.name for m in tar if m.isfile() and m.name.lower().endswith(suffixes)]
    counts = {}
    for name in names:
        parts = Path(name).parts
        if len(parts) >= 3:  # [top folder/] split/class/image
            split, cls = parts[-3], parts[-2]
            counts.setdefault(split, {}).setdefault(cls, 0)
            counts[split][cls] += 1
    return counts


def _check_training_counts():
    """A config asking for more images per class than the training set holds is refused here,
    before any job runs, naming the config key, the data and the class."""
    t = config["training"]
    if t["dataset"] != "image-folder" or not any(t["per_class"].values()):
        return
    source = Path(t["source"])
    if not source.exists():  # raw_data() names the data/*.dvc file and the dvc update command
        return
    counts = _image_counts(source)
    for split, wanted in t["per_class"].items():
        if not wanted:
            continue
        have = counts.get(split, {})
        if not have:
            raise WorkflowError(
                f"config: training.per_class.{split} is {wanted}, but {source} has no {split}/ folder of classes"
            )
        cls, n = min(have.items(), key=lambda kv: kv[1])
        if n < wanted:
            raise WorkflowError(
                f"config: training.per_class.{split} is {wanted}, but {source} holds only {n} {split} images of class {cls!r}"
            )


_check_training_counts()


def _figures():
    names = [
        "layer_profiles",
        "performance_vs_it",
        "rsa",
        "cka",
        "correspondence",
        "matching",
        "seed_variance",
        "unit_examples",
        "trajectory",
        "leaderboard",
    ]
    if SYNTHETIC:
        names.insert(0, "montage")
    if benchmarks_of("simulate"):
        names.append("recovery")
    if POSITIVE_CONTROL:
        names.append("positive_control")
    if len(config["models"]["archs"]) < 2:  # seed vs architecture variance needs two architectures
        names.remove("seed_variance")
    return names


FIGURES = _figures()


PACKAGE = Path(workflow.main_snakefile).parent / "src" / "goaldriven"


_IMPORTS = {}  # module -> its package imports: every rule asks, so each module is parsed once


def _imports_in(nodes):
    """Package modules imported by these syntax nodes (``from .x import``, ``from . import x``)."""
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return found


def _package_imports(module):
    """Modules of the package that ``module`` imports, at any depth."""
    if module not in _IMPORTS:
        _IMPORTS[module] = _imports_in(ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())))
    return _IMPORTS[module]


_CLI = []  # cli.py's syntax tree: every rule asks, so it is parsed once


def _command_imports(command):
    """Modules cli.py imports to run `goaldriven COMMAND`: at its top, and in the command's
    handler and options function (registered together by @command(COMMAND, help, options))."""
    if not _CLI:
        _CLI.append(ast.parse((PACKAGE / "cli.py").read_text()))
    tree = _CLI[0]
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    for fn in functions.values():
        for dec in fn.decorator_list:
            if (
                isinstance(dec, ast.Call)
                and getattr(dec.func, "id", None) == "command"
                and dec.args[0].value == command
            ):
                parts = (fn, functions[dec.args[2].id])
                return _imports_in(tree.body) | _imports_in(n for part in parts for n in ast.walk(part))
    raise WorkflowError(f"goaldriven has no command {command!r} (src/goaldriven/cli.py)")


def cli_code(command):
    """The package code `goaldriven COMMAND` runs, as a rule's inputs: derived from the command,
    so that a rule's dependencies follow what its command imports."""
    return code(*sorted(_command_imports(command)))


def code(*modules):
    """Package modules that a job runs, declared as inputs so that editing one reruns it (in DVC
    too): the named ones, the entry point, and everything they import from the package, so that
    a module behind another (ridge behind mapping) is never forgotten."""
    needed, todo = set(), ["__init__", "io", *modules]
    while todo:
        m = todo.pop()
        if m not in needed:
            needed.add(m)
            todo += sorted(_package_imports(m) - needed)
    return [f"src/goaldriven/{m}.py" for m in ["cli", *sorted(needed)]]


def candidate_models():
    m = config["models"]
    models = [f"{a}/{t}_seed{s}" for a in m["archs"] for t in m["tasks"] for s in m["seeds"]]
    if OBJECTS:  # the second diet and its untrained controls at the same resolution
        tasks = ("objects", "untrained_objects")
        models += [f"{a}/{t}_seed{s}" for a in OBJECTS["archs"] for t in tasks for s in OBJECTS["seeds"]]
    return models


def width_of(arch):
    """models.width: one number for every architecture, or one per architecture."""
    width = config["models"]["width"]
    return width[arch] if isinstance(width, dict) else width


# The config keys the scoring commands read: goaldriven.options.ScoringSpec's fields (a test checks).
SCORING = ("comparison", "splits", "seed", "criterion", "method")


def options(section, *keys):
    """Command-line options from a config section, one per key (all of them by default): key
    max_features -> --max-features VALUE. goaldriven's option groups (goaldriven.options) name
    their fields as the config keys, so one name runs from the config to the code; the values,
    defaults included, are the schema-validated config's."""
    values = config[section]
    return " ".join(f"--{k.replace('_', '-')} {values[k]}" for k in (keys or sorted(values)))


def recipe_options():
    """Training augmentation and label smoothing (config training; none by default)."""
    t = config["training"]
    options = ""
    if t.get("augment_pad"):
        options += f" --augment-pad {t['augment_pad']}"
    if t.get("label_smoothing"):
        options += f" --label-smoothing {t['label_smoothing']}"
    return options


def external_models():
    """Model ids of the config's external models (models.external): NAME/external_seed0."""
    return [f"{name}/external_seed0" for name in EXTERNAL]


def scored_models():
    """Every model scored and summarised: the zoo's and the external ones."""
    return candidate_models() + external_models()


def external_files(w):
    """An external model's files, as inputs: its factory file (when it names one) and weights."""
    entry, files = EXTERNAL[w.name], {}
    where = entry["factory"].rpartition(":")[0]
    if where.endswith(".py") or "/" in where:
        files["factory"] = where
    if entry.get("weights"):
        files["model_weights"] = entry["weights"]
    return files


def external_options(name):
    """The goaldriven options that describe an external model (features, external-model)."""
    e = EXTERNAL[name]
    options = (
        f"--model {e['factory']} --layers {','.join(e['layers'])} --preprocessing {e.get('preprocessing', 'imagenet')}"
    )
    if e.get("input_size"):
        options += f" --image-size {e['input_size']}"
    if e.get("weights"):
        options += f" --weights {e['weights']}"
    return options


def benchmark_stimuli(benchmark):
    if BENCHMARKS[benchmark]["importer"] == "simulate":
        return f"{RESULTS}/stimuli/test.nc"
    return f"{RESULTS}/neural/{benchmark}/stimuli.nc"


def benchmark_responses(benchmark):
    """Site responses of a predictivity benchmark: {"recordings": ..., ["trials": ...]}."""
    if BENCHMARKS[benchmark]["importer"] == "simulate":
        return {"recordings": f"{RESULTS}/recordings/simulated.nc"}
    files = {"recordings": f"{RESULTS}/neural/{benchmark}/assembly.nc"}
    if "trials.nc" in IMPORTER_FILES[BENCHMARKS[benchmark]["importer"]]:
        files["trials"] = f"{RESULTS}/neural/{benchmark}/trials.nc"
    return files


def convergence_benchmark():
    """The stimuli on which seeds are compared: the configured benchmark, else the first."""
    return config["convergence"].get("benchmark") or next(iter(BENCHMARKS))


def trajectory_benchmark():
    """The site responses checkpoints are scored on: the configured benchmark, else the first."""
    return config["models"].get("trajectory_benchmark", PREDICTIVITY[0])


def kept_epochs(model):
    """The checkpoints kept along training of a model (none for an untrained control or the
    second diet's networks)."""
    if Path(model).name.split("_seed")[0] not in ("supervised", "autoencoder"):
        return []
    return [f"{RESULTS}/models/{model}/epochs/epoch_{e:03d}.safetensors" for e in KEEP_EPOCHS]


def rsa_panel_benchmark():
    """The benchmark whose RDMs the RSA figure shows: published RDMs if any, else the first."""
    return (RDM_BENCHMARKS or list(BENCHMARKS))[0]


def panel_data(benchmark):
    """What the RSA figure's area RDMs come from: published RDMs, or the site responses."""
    if benchmark in RDM_BENCHMARKS:
        return f"{RESULTS}/neural/{benchmark}/rdms.nc"
    return benchmark_responses(benchmark)["recordings"]


def features_of(benchmark, models=None):
    return [f"{RESULTS}/features/{benchmark}/{m}.nc" for m in (models or candidate_models())]


def all_scores():
    return [f"{RESULTS}/scores/{b}/{m}.nc" for b in BENCHMARKS for m in scored_models()]


def matching_tables():
    m = config["models"]
    return expand(f"{RESULTS}/convergence/matching/{{arch}}_{{task}}.csv", arch=m["archs"], task=m["tasks"])


def weights(model):
    if model == "surrogate":
        return f"{RESULTS}/recordings/surrogate/weights.safetensors"
    return f"{RESULTS}/models/{model}/weights.safetensors"


def per_object(counts):
    """{V0: 2, V3: 4} -> '0:2,3:4' for goaldriven stimuli --images-per-variation."""
    return ",".join(f"{k[1:]}:{v}" for k, v in counts.items())


def all_figures():
    return expand(f"{RESULTS}/figures/{{figure}}.{{ext}}", figure=FIGURES, ext=["png", "pdf"])


def figure_inputs(figure):
    """(name, path) of every file a figure is drawn from (figures.smk's FIGURE_INPUTS), a name
    repeated for a list of files."""
    return [(k, p) for k, v in FIGURE_INPUTS[figure].items() for p in ([v] if isinstance(v, str) else v)]
