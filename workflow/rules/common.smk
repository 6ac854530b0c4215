# Helpers the rules share: where files live, and how a config value or the package's code
# reaches a job. Every path is under the experiment's results folder RESULTS (config
# "results"); the config's checks and derived lists are in config.smk, raw data and the DVC
# record in dvc.smk.
import os
import shlex
from dataclasses import fields as dataclass_fields
from pathlib import Path

from goaldriven.core.options import ScoringSpec
from goaldriven.core.registry import NAMED_MODELS

RESULTS = config["results"]  # this experiment's results folder
LOGS = config["logs"]  # and its logs
ZOO_TASKS = "|".join(MODEL_KINDS)
ZOO_MODEL_RE = rf"surrogate|[a-z0-9]+/({ZOO_TASKS})_seed[0-9]+"
MODEL_RE = ZOO_MODEL_RE + r"|[a-z0-9]+/external_seed0"  # external models: NAME/external_seed0
# The config files of this run, recorded by every job in its run manifest (goaldriven lineage).
# Set, not read (so no `envvars:`); a cluster job parses this file again and sets it there too.
os.environ.update(GOALDRIVEN_CONFIG=os.pathsep.join(map(str, workflow.overwrite_configfiles or ["config/config.yaml"])))
# workflow/scripts/export_dvc.py builds this DAG with this set: then arg() marks each config value
# in the commands, so that the DVC stages template numbers from the config file and list every
# key they read as params.
EXPORTING = os.environ.get("GOALDRIVEN_DVC_EXPORT") == "1"
MARK = "@@"  # a marked value: @@key=number@@ (templated) or @@key:=text@@ (written in)


def lookup(key):
    """The config value at a dotted key (``models.width.hmo``)."""
    node = config
    for part in key.split("."):
        node = node[part]
    return node


def arg(key, text=None):
    """A config value as one shell word: quoted, so that no value runs as code. ``text``: how
    it is written (default: the value itself). Exporting to DVC, a mark that export_dvc.py
    turns into ``${key}`` (a number written as itself) or the quoted text, and a DVC param."""
    value = lookup(key)
    text = str(value) if text is None else text
    if not EXPORTING:
        return shlex.quote(text)
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and text == str(value)
    return f"{MARK}{key}={text}{MARK}" if number else f"{MARK}{key}:={text}{MARK}"


def track(key):
    """A config value the command depends on without a word of its own (a default left out):
    nothing in the command, but exporting, a DVC param all the same."""
    return f"{MARK}{key}:={MARK}" if EXPORTING else ""


def options(section, *keys):
    """Command-line options from a config section, one per key (all of them by default): key
    max_features -> --max-features VALUE. goaldriven's option groups name their fields as the
    config keys, so one name runs from the config to the code."""
    return " ".join(f"--{k.replace('_', '-')} {arg(f'{section}.{k}')}" for k in (keys or sorted(config[section])))


# The config keys the scoring commands read: goaldriven.core.options.ScoringSpec's fields.
SCORING = ("comparison", *(f.name for f in dataclass_fields(ScoringSpec)))


def goaldriven(command):
    """The start of a job's command: ``goaldriven`` with the config's numerics and the job's threads."""
    return f"goaldriven --numerics {arg('numerics')} --threads {{threads}} {command}"


PACKAGE = Path(workflow.basedir) / "src" / "goaldriven"


def cli_code(command):
    """The package code `goaldriven COMMAND` runs, as a rule's inputs (so that editing it reruns
    the job, in DVC too): the entry point, the command's module, core and provenance, and the
    subpackages the registry declares for it."""
    spec = COMMANDS[command]
    group = spec.handler.partition(":")[0]
    files = [
        PACKAGE / "__init__.py",
        PACKAGE / "cli" / "__init__.py",
        PACKAGE / "cli" / "safety.py",
        PACKAGE / "cli" / f"{group}.py",
        PACKAGE / "provenance" / "manifest.py",
    ]
    for part in ("core", *spec.code):  # a subpackage (all its modules) or one module of one
        sub, _, module = part.partition(".")
        files += (
            [PACKAGE / sub / "__init__.py", PACKAGE / sub / f"{module}.py"]
            if module
            else sorted((PACKAGE / sub).glob("*.py"))
        )
    return [Path(os.path.relpath(f, workflow.basedir)).as_posix() for f in dict.fromkeys(files)]


def one_of(names):
    """A wildcard constraint that matches exactly these names (never empty: a rule whose
    benchmarks are absent must still parse)."""
    return "|".join(names) if names else "(?!)"


def candidate_models():
    m = config["models"]
    models = [f"{a}/{t}_seed{s}" for a in m["archs"] for t in m["tasks"] for s in m["seeds"]]
    if OBJECTS:  # the second diet and its untrained controls at the same resolution
        kinds = [k for k, spec in MODEL_KINDS.items() if spec.diet == "objects"]
        models += [f"{a}/{t}_seed{s}" for a in OBJECTS["archs"] for t in kinds for s in OBJECTS["seeds"]]
    return models


def width_key(arch):
    """The config key of an architecture's width: models.width, or models.width.ARCH."""
    return f"models.width.{arch}" if isinstance(config["models"]["width"], dict) else "models.width"


def epochs_key(arch):
    """The config key of an architecture's training epochs (first diet): models.epochs, or
    models.epochs.ARCH."""
    return f"models.epochs.{arch}" if isinstance(config["models"]["epochs"], dict) else "models.epochs"


def external_models():
    """Model ids of the config's external models (models.external): NAME/external_seed0."""
    return [f"{name}/external_seed0" for name in EXTERNAL]


def scored_models():
    """Every model scored and summarised: the zoo's and the external ones."""
    return candidate_models() + external_models()


def external_files(w):
    """An external model's files, as inputs: its factory file (when it names one) and weights."""
    entry, files = EXTERNAL[w.name], {}
    if factory_file(entry["factory"]):
        files["factory"] = factory_file(entry["factory"])
    if entry.get("weights"):
        files["model_weights"] = entry["weights"]
    return files


def external_options(name):
    """The goaldriven options that describe an external model (features, external-model), each
    value quoted: a factory path or layer name is a word, never shell code."""
    e, q = EXTERNAL[name], shlex.quote
    options = f"--model {q(e['factory'])} --layers {q(','.join(e['layers']))}"
    # A factory's default is imagenet (spelled out, as before); a named model's, its package's own.
    preprocessing = e.get("preprocessing") or (None if e["factory"].partition(":")[0] in NAMED_MODELS else "imagenet")
    if preprocessing:
        options += f" --preprocessing {q(preprocessing)}"
    if e.get("input_size"):
        options += f" --image-size {q(str(e['input_size']))}"
    if e.get("weights"):
        options += f" --weights {q(e['weights'])}"
    return options


def benchmark_stimuli(benchmark):
    if BENCHMARKS[benchmark]["importer"] == SIMULATED:
        return f"{RESULTS}/stimuli/test.nc"
    return f"{RESULTS}/neural/{benchmark}/stimuli.nc"


def benchmark_responses(benchmark):
    """Site responses of a predictivity benchmark: {"recordings": ..., ["trials": ...]}."""
    if BENCHMARKS[benchmark]["importer"] == SIMULATED:
        return {"recordings": f"{RESULTS}/recordings/simulated.nc"}
    files = {"recordings": f"{RESULTS}/neural/{benchmark}/assembly.nc"}
    if "trials.nc" in IMPORTERS[BENCHMARKS[benchmark]["importer"]].files:
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


def per_object(key):
    """{V0: 2, V3: 4} at ``key`` -> '0:2,3:4' for goaldriven stimuli --images-per-variation."""
    return ",".join(f"{level[1:]}:{arg(f'{key}.{level}')}" for level in lookup(key))


def all_figures():
    return expand(f"{RESULTS}/figures/{{figure}}.{{ext}}", figure=FIGURE_NAMES, ext=["png", "pdf"])


def train_command(diet):
    """One training command for a diet: "first" (config models and training; the rule's
    params.epochs: the architecture's) or "objects"."""
    epochs = "{params.epochs}" if diet == "first" else arg("objects.epochs")
    recipe = " ".join(
        f"--{k.replace('_', '-')} {arg(f'training.{k}')}"
        for k in ("augment_pad", "label_smoothing")
        if k in config["training"]
    )
    return (
        goaldriven("train") + " --arch {wildcards.arch} --task {params.task} --seed {wildcards.seed}"
        f" --epochs {epochs} --width {{params.width}} --batch-size {arg('models.batch_size')}"
        f" --lr {arg('models.lr')} {{params.keep}} {recipe}"
        " --dataset {input.train} --test-dataset {input.test} --out {params.out} > {log} 2>&1"
    )


def untrained_command():
    return (
        goaldriven("train") + " --arch {wildcards.arch} --task untrained --seed {wildcards.seed} --epochs 0"
        " --width {params.width} --dataset {input.train} --test-dataset {input.test} --out {params.out}"
        " > {log} 2>&1"
    )


# --keep-epochs, or nothing
KEEP = f"--keep-epochs {arg('models.keep_epochs', ','.join(map(str, KEEP_EPOCHS)))}" if KEEP_EPOCHS else ""
