# The config, checked before any job: against the schema (whose names come from goaldriven's
# registry), then for names that must exist (benchmarks, layers) and for asking more than the
# data hold. Every refusal names the config key. Then what the config asks for: benchmarks,
# models, figures.
import math
import os
import sys
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from snakemake.exceptions import WorkflowError

sys.path.insert(0, str(Path(workflow.basedir) / "src"))  # this checkout's goaldriven, not another install
from goaldriven.core.registry import ARCHITECTURES, CANDIDATES, COMMANDS, FIGURES, IMPORTERS, MODEL_KINDS, SIMULATED
from goaldriven.core.registry import factory_file, schema_enums


def _validator_with_defaults():
    """A JSON-schema validator that also fills in each property's default (as Snakemake's
    validate does), for the schema whose names come from the registry."""
    set_default = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, sub["default"])
        yield from set_default(validator, props, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": properties})


def validate_config(config):
    schema = yaml.safe_load((Path(workflow.basedir) / "workflow/schemas/config.schema.yaml").read_text())
    for name, values in schema_enums().items():
        schema["$defs"][name]["enum"] = values
    errors = sorted(_validator_with_defaults()(schema).iter_errors(config), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        raise WorkflowError(f"config: {'.'.join(map(str, e.path)) or '(top level)'}: {e.message}")


def _check_finite(value, key=""):
    """YAML's .nan and .inf pass the schema's number checks (and NaN every comparison with a
    bound): every number of the config must be finite, refused here naming its key."""
    if isinstance(value, float) and not math.isfinite(value):
        raise WorkflowError(f"config: {key or '(top level)'} is {value}, not a finite number")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, f"{key}[{i}]")


def _check_folders():
    """The experiment's results and logs lie inside the repository (not the repository itself):
    DVC tracks them there, and a results folder elsewhere (../elsewhere, /scratch) would be
    written to and replaced outside what the repository records."""
    root = Path(workflow.basedir)
    for key in ("results", "logs"):
        # By its words, not by resolving links: the folder may be a link (as in export_dvc.py's
        # view of the repository), what matters is where the config puts it.
        folder = Path(os.path.normpath(root / config[key]))
        if Path(config[key]).is_absolute() or root not in folder.parents:
            raise WorkflowError(
                f"config: {key} is {config[key]!r}, which is not a folder inside the repository "
                f"({root}); give a relative path such as {key}/my_experiment"
            )


_check_finite(config)
validate_config(config)
_check_folders()

BENCHMARKS = config["neural"]  # name -> {importer, source}
SYNTHETIC = config["training"]["dataset"] == "synthetic"
OBJECTS = config.get("objects")  # the second training diet (procedural objects), or None
KEEP_EPOCHS = config["models"]["keep_epochs"]  # checkpoints scored along training
EXTERNAL = {e["name"]: e for e in config["models"].get("external", [])}  # name -> models.external entry
# External models that are the package's own controls (raw pixels, the V1-like Gabor bank).
CONTROLS = [n for n, e in EXTERNAL.items() if e["factory"].startswith("goaldriven.models.controls:")]
# A positive-control table when trained networks have something to be compared with.
POSITIVE_CONTROL = bool(CONTROLS or "untrained" in config["models"]["tasks"] or OBJECTS)


def benchmarks_of(*importers):
    return [b for b, spec in BENCHMARKS.items() if spec["importer"] in importers]


PREDICTIVITY = benchmarks_of(SIMULATED, "cowley-v4", "kalfas-it", "assembly")  # site responses
RDM_BENCHMARKS = benchmarks_of("kriegeskorte92")  # published RDMs only


def _refuse(key, value, choices, what):
    raise WorkflowError(f"config: {key} is {value!r}, not {what}; choose from {sorted(choices)}")


def _check_names():
    """Benchmark and layer names the config refers to must exist: refused here, at parse time,
    naming the config key, rather than by a job hours into the run."""
    models = config["models"]
    epochs = models["epochs"]
    if isinstance(epochs, dict) and set(models["archs"]) - set(epochs):
        raise WorkflowError(f"config: models.epochs gives no epochs for {sorted(set(models['archs']) - set(epochs))}")
    fewest = min(epochs[a] for a in models["archs"]) if isinstance(epochs, dict) else epochs
    if any(not 0 < e < fewest for e in KEEP_EPOCHS):
        raise WorkflowError(
            "config: models.keep_epochs must lie between 0 and models.epochs (the final weights "
            "are always scored; with epochs per architecture, the fewest)"
        )
    if benchmarks_of(SIMULATED) and not SYNTHETIC:
        raise WorkflowError(
            "config: the 'simulate' benchmark needs training.dataset: synthetic (its surrogate "
            "network is trained on the synthetic stimuli)"
        )
    for key, value, choices, what in (
        (
            "models.trajectory_benchmark",
            models.get("trajectory_benchmark"),
            PREDICTIVITY,
            "a benchmark of site responses in config 'neural'",
        ),
        ("convergence.benchmark", config["convergence"].get("benchmark"), BENCHMARKS, "a benchmark in config 'neural'"),
    ):
        if value is not None and value not in choices:
            _refuse(key, value, choices, what)
    width = models["width"]
    archs = set(models["archs"]) | set((OBJECTS or {}).get("archs", []))
    if isinstance(width, dict) and archs - set(width):
        raise WorkflowError(f"config: models.width gives no width for {sorted(archs - set(width))}")
    examples = config["convergence"]["examples"]
    if examples["arch"] not in models["archs"]:
        _refuse("convergence.examples.arch", examples["arch"], models["archs"], "one of models.archs")
    layers = ARCHITECTURES[examples["arch"]].layers
    if examples["layer"] not in layers:
        _refuse("convergence.examples.layer", examples["layer"], layers, f"a layer of {examples['arch']}")
    if benchmarks_of(SIMULATED):
        surrogate = config["surrogate"]
        if surrogate["arch"] not in ARCHITECTURES:
            _refuse("surrogate.arch", surrogate["arch"], ARCHITECTURES, "an architecture")
        for key in ("v4_layer", "it_layer"):
            if surrogate[key] not in ARCHITECTURES[surrogate["arch"]].layers:
                _refuse(
                    f"surrogate.{key}",
                    surrogate[key],
                    ARCHITECTURES[surrogate["arch"]].layers,
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
                f"config: training.per_class.{split} is {wanted}, but {source} holds only {n} {split} images of "
                f"class {cls!r}"
            )


_check_training_counts()


def _figures():
    """The figures this config draws (in the registry's order)."""
    names = [f for f in FIGURES if f not in ("montage", "recovery", "positive_control", "seed_variance")]
    if SYNTHETIC:
        names.insert(0, "montage")
    if benchmarks_of(SIMULATED):
        names.append("recovery")
    if POSITIVE_CONTROL:
        names.append("positive_control")
    if len(config["models"]["archs"]) >= 2:  # seed vs architecture variance needs two architectures
        names.insert(names.index("unit_examples"), "seed_variance")
    return names


FIGURE_NAMES = _figures()
