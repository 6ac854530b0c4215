"""What goaldriven offers, declared once: commands (with every option), architectures and
their layers, training tasks, figures and their inputs, importers and the files they write,
scoring methods.

Standard library only, so that the command line builds its parser, and the workflow its rules,
config schema enums, report captions and DVC stages, without importing torch. Each name is
defined here and nowhere else; the implementations look their names up here (the zoo's layer
names, the figures' inputs, the importers' files) and tests check that every declared name has
its implementation.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, Callable

from .options import CRITERIA, METHODS, NUMERICS  # noqa: F401  (declared with their option groups)
from .options import (FeatureSpec, NumericsSpec, ScoringSpec, TrainConfig, epoch_list, nonnegative_int,
                      positive_int, probability, variation_counts)

# ----------------------------------------------------------------------------- networks
@dataclass(frozen=True)
class Architecture:
    name: str
    layers: tuple[str, ...]  # the named stages, in depth order (features are read from these)
    doc: str
    candidate: bool = True  # False: the simulated recordings' surrogate, never scored as a model


ARCHITECTURES = {a.name: a for a in (
    Architecture("hmo", ("layer1", "layer2", "layer3", "layer4"),
                 "HMO-like 4-layer HCNN (Yamins et al. 2014)"),
    Architecture("alexnet", ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"),
                 "small AlexNet-style network: five conv and two fully connected layers"),
    Architecture("vgg", ("block1", "block2", "block3", "block4", "avgpool"),
                 "small VGG-style network: four conv-conv-pool blocks"),
    Architecture("resnet18", ("conv1", "layer1", "layer2", "layer3", "layer4", "avgpool"),
                 "ResNet-18 (basic blocks [2, 2, 2, 2]), Brain-Score's layer names"),
    Architecture("resnet", ("conv1", "layer1", "layer2", "layer3", "avgpool"),
                 "small CIFAR ResNet: a 3x3 stem and three stages of basic blocks"),
    Architecture("cornet", ("V1", "V2", "V4", "IT", "avgpool"),
                 "small CORnet-S-like recurrent network: areas V1, V2, V4, IT, each area's block "
                 "applied recurrently with a skip"),
    Architecture("convmixer", ("stem", "stage1", "stage2", "stage3", "stage4", "avgpool"),
                 "small ConvMixer: a patch embedding, then eight depthwise/pointwise mixer layers "
                 "read out two by two"),
    Architecture("brainnet", ("stage1", "stage2", "stage3", "stage4", "stage5"),
                 "the surrogate behind the simulated recordings (never a candidate)", candidate=False),
)}
CANDIDATES = tuple(a for a, spec in ARCHITECTURES.items() if spec.candidate)


@dataclass(frozen=True)
class Task:
    name: str
    doc: str
    trains: bool = True
    zoo: bool = True  # a task of the workflow's model zoo (config models.tasks)


TASKS = {t.name: t for t in (
    Task("supervised", "categorisation (the goal)"),
    Task("untrained", "the random initialisation, saved as it is (the control)", trains=False),
    Task("autoencoder", "reconstruction from the top spatial layer (the unsupervised control)"),
    Task("pose", "regression of the object's position and size (category-orthogonal; needs the synthetic "
                 "set's pose coordinates)", zoo=False),
)}


@dataclass(frozen=True)
class ModelKind:
    """What a model folder ``ARCH/{kind}_seed{N}`` holds: a training task on a diet; its
    untrained twin (the same seed's initialisation at the same resolution), and whether it is a
    control rather than a goal-trained network."""

    name: str
    task: str
    diet: str = "first"  # "first": the config's training set; "objects": the second diet
    untrained: str | None = None
    control: bool = False


MODEL_KINDS = {k.name: k for k in (
    ModelKind("supervised", "supervised", untrained="untrained"),
    ModelKind("untrained", "untrained", control=True),
    ModelKind("autoencoder", "autoencoder", untrained="untrained", control=True),
    ModelKind("pose", "pose", untrained="untrained"),
    ModelKind("objects", "supervised", diet="objects", untrained="untrained_objects"),
    ModelKind("untrained_objects", "untrained", diet="objects", control=True),
)}


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Importer:
    name: str
    files: tuple[str, ...]  # what it writes into its output folder (image-folder: one .nc file)
    doc: str
    options: tuple[str, ...] = ()  # the import command's options it takes
    benchmark: bool = True  # neural data a model is scored against (image-folder: a training set)


IMPORTERS = {i.name: i for i in (
    Importer("cowley-v4", ("assembly.nc", "trials.nc", "stimuli.nc"), "Cowley et al. 2023 V4 sessions"),
    Importer("kalfas-it", ("assembly.nc", "stimuli.nc"), "Kalfas & Vogels 2017 IT units"),
    Importer("kriegeskorte92", ("rdms.nc", "stimuli.nc"), "Kriegeskorte et al. 2008, the 92 images' RDMs"),
    Importer("assembly", ("assembly.nc", "stimuli.nc"), "any BrainIO-style folder (assembly.nc + a stimulus set)",
             options=("size",)),
    Importer("image-folder", (), "a labelled image folder or .tar.gz (root/split/class/image) into one .nc",
             options=("subdir", "per_class", "size", "seed"), benchmark=False),
)}
SIMULATED = "simulate"  # the benchmark "importer" of the simulated recordings (made, not imported)


# ----------------------------------------------------------------------------- figures
@dataclass(frozen=True)
class Figure:
    name: str
    inputs: tuple[str, ...]  # the tables it is drawn from, by name (goaldriven figure --input NAME=PATH)
    doc: str
    optional: tuple[str, ...] = ()  # inputs that may be left out
    several: tuple[str, ...] = ()  # inputs that take a list of files


FIGURES = {f.name: f for f in (
    Figure("montage", ("stimuli",), "example test images of each category at each variation level"),
    Figure("layer_profiles", ("predictivity_csv",), "V4 and IT predictivity of every layer"),
    Figure("performance_vs_it", ("models_csv",), "categorisation performance against IT predictivity"),
    Figure("rsa", ("rsa_csv", "rdms_nc", "references_csv"), "area and model RDMs, and each layer's RSA",
           optional=("references_csv",)),
    Figure("cka", ("similarity_csv",), "cross-seed debiased CKA per layer, with its references"),
    Figure("correspondence", ("similarity_csv",), "layer correspondence between seeds and architectures"),
    Figure("recovery", ("recovery_csv",), "the surrogate layer found for each simulated area"),
    Figure("matching", ("matching_csvs",), "one-to-one unit matching across seeds", several=("matching_csvs",)),
    Figure("seed_variance", ("models_csv", "variance_csv"), "brain scores of every seed beside the architectures"),
    Figure("unit_examples", ("table_csv", "stimuli_nc"), "the most and least convergent units' top images"),
    Figure("trajectory", ("table_csv",), "brain scores along training"),
    Figure("leaderboard", ("leaderboard_csv",), "every model and control per area, with its interval"),
    Figure("positive_control", ("table_csv",), "trained minus untrained, pixels and V1-like, with intervals"),
)}


# ----------------------------------------------------------------------------- commands
# An option naming a file or folder the command reads, a file it writes, a folder it writes.
READ, WRITE, WRITE_DIR = "read", "write", "write_dir"


@dataclass(frozen=True)
class Opt:
    """One command-line option (or positional argument, without the leading dashes); ``role``
    READ/WRITE marks the paths, which the command line checks before any work (no output may
    be or lie inside an input)."""

    flag: str
    help: str = ""
    role: str | None = None
    type: Callable | None = None
    default: Any = None
    required: bool = False
    nargs: Any = None
    choices: tuple | None = None
    metavar: Any = None
    action: str | None = None  # argparse's: store_true (a flag), append (repeated)
    short: str | None = None  # a one-letter spelling too ("-v")

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def positional(self) -> bool:
        return not self.flag.startswith("-")


NAMED_MODELS = ("torchvision", "timm", "hf")  # PACKAGE:NAME[+weights] (goaldriven.models.named)


def factory_file(factory: str) -> str | None:
    """The file a model factory (``FILE.py:FUNCTION`` or ``package.module:FUNCTION``) names, if
    it names one (what the workflow tracks and the command line protects), else None (also for
    a model by name, ``torchvision:``/``timm:``/``hf:``)."""
    if str(factory).partition(":")[0] in NAMED_MODELS:
        return None
    where = str(factory).rpartition(":")[0]
    return where if where.endswith(".py") or "/" in where else None


def group_options(group, choices: dict | None = None, skip=()) -> tuple[Opt, ...]:
    """The options of an option group (a dataclass of goaldriven.core.options): a field's name
    is its config key and its option (``max_features`` -> ``--max-features``)."""
    out = []
    for f in fields(group):
        if f.name in skip:
            continue
        required = f.default is MISSING
        kind = f.metadata.get("type") or {"int": int, "float": float, "str": str, "int | None": int}[f.type]
        out.append(Opt("--" + f.name.replace("_", "-"), f.metadata.get("help", ""), type=kind,
                       default=None if required else f.default, required=required,
                       choices=(choices or {}).get(f.name, f.metadata.get("choices"))))
    return tuple(out)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    handler: str  # "module:function" under goaldriven.cli
    options: tuple[Opt, ...] = ()
    groups: tuple[type, ...] = ()  # the option groups among its options (config sections)
    # The package code it runs beside core and the command line: subpackages ("compare") or single
    # modules ("study.summary"): a workflow rule's code inputs, so editing them reruns its jobs
    # (and nothing else: a figure's code is not a training's). tests/workflow/test_layout.py
    # checks that every module the command reaches is declared.
    code: tuple[str, ...] = ()
    job: bool = True  # a workflow job: writes a run manifest beside its outputs

    def paths(self, role: str) -> tuple[str, ...]:
        return tuple(o.dest for o in self.options if o.role == role)


def _o(*args, **kwargs) -> Opt:
    return Opt(*args, **kwargs)


def _read(flag, help="", **kw) -> Opt:
    return Opt(flag, help, role=READ, **kw)


def _write(flag, help="output file (written atomically: replaced only on success)", **kw) -> Opt:
    return Opt(flag, help, role=WRITE, required=kw.pop("required", True), **kw)


def _write_dir(flag, help, **kw) -> Opt:
    return Opt(flag, help, role=WRITE_DIR, required=kw.pop("required", True), **kw)


DEVICE = ("auto", "cpu", "cuda")
PREPROCESSING = ("imagenet", "unit", "none", "model")
PREPROCESSING_HELP = ("pixels/255 standardised with ImageNet's mean and sd, pixels/255, raw 0-255, or pixels/255 "
                      "standardised with the named model's own mean and sd (default: model for torchvision:, timm:, "
                      "hf: names, with their input size; imagenet otherwise)")
UNITS = ("column", "channel")
UNIT_DEFAULT = "channel"  # Li et al. 2016: a conv unit is a channel, matched over images and positions
UNIT_HELP = "match conv channels over stimuli and positions (Li et al. 2016), or layer columns"
FACTORY_HELP = ("FILE.py:FUNCTION or package.module:FUNCTION returning a torch.nn.Module, or a model by name: "
                "torchvision:NAME, timm:NAME, hf:NAME (random init; NAME+weights: the package's trained weights, "
                "downloaded; extras goaldriven[torchvision], [timm], [hf])")
LAYERS_HELP = "comma-separated module names (as model.named_modules() gives)"
TRIALS_HELP = "single-trial assembly for noise ceilings (default: the recordings' own repetitions, if any)"

GLOBAL_OPTIONS = (
    _o("--verbose", "debug logging, and the traceback of every error", action="store_true", short="-v"),
    _o("--threads", "CPU threads for torch and BLAS (portable numerics: 1 whatever this says)", type=positive_int),
    *group_options(NumericsSpec),
)

COMMANDS = {c.name: c for c in (
    Command("stimuli", "render the synthetic HvM-style stimulus set", "data:stimuli", (
        _o("--seed", "seed of objects, poses and backgrounds", type=nonnegative_int, default=0),
        _o("--split", "name of the split (train, test); recorded in the stimulus ids", default="train"),
        _o("--size", "image size in pixels (square)", type=positive_int, default=64),
        _o("--objects-per-category", "distinct 3D objects per category", type=positive_int, default=8),
        _o("--images-per-variation", "images per object at each variation level, LEVEL:COUNT,...",
           type=variation_counts, default="0:1,3:4,6:5"),
        _write("--out", "stimulus set (.nc)"),
    ), code=("data",)),
    Command("import", "import a real dataset (stimuli, assemblies, RDMs) into our netCDF files", "data:import_", (
        _o("dataset", "which importer: " + ", ".join(IMPORTERS), choices=tuple(IMPORTERS)),
        _read("source", "the dataset as published (a folder; image-folder: a folder or .tar.gz)"),
        _write("out", "output folder, replaced only on success and only if an earlier import wrote it "
                      "(image-folder: a .nc file); never inside SOURCE"),
        _o("--subdir", "image-folder: folder inside SOURCE to read, e.g. train"),
        _o("--per-class", "image-folder: seeded random subset of this many per class", type=positive_int),
        _o("--size", "image-folder, assembly: resize images to SIZE x SIZE", type=positive_int),
        _o("--seed", "image-folder: seed of the per-class subset (default 0)", type=nonnegative_int),
    ), code=("data",)),
    Command("train", "train a network for categorisation (or a control: untrained, autoencoder)", "models:train", (
        *group_options(TrainConfig, choices={"arch": tuple(ARCHITECTURES), "task": tuple(TASKS)}),
        _read("--dataset", "training stimulus set (.nc)", required=True),
        _read("--test-dataset", "held-out stimulus set for the test accuracy"),
        _o("--device", "auto: CUDA when available (byte-identical results on CPU only)", default="auto",
           choices=DEVICE),
        _o("--keep-epochs", "also keep these epochs' weights, e.g. 1,2,4 (in OUT/epochs/)", type=epoch_list,
           default=()),
        _write_dir("--out", "output folder (weights, metrics, checkpoints): new, or an earlier training's"),
    ), groups=(TrainConfig,), code=("data", "models")),
    Command("simulate", "SIMULATED V4/IT recordings from a surrogate network", "models:simulate", (
        _read("--weights", "surrogate network's weights (goaldriven train)", required=True),
        _read("--stimuli", "stimulus set the sites respond to", required=True),
        _o("--n-v4", "simulated V4 sites", type=positive_int, default=128),
        _o("--n-it", "simulated IT sites", type=positive_int, default=168),
        _o("--v4-layer", "surrogate layer the V4 sites read from (ground truth)", default="stage3"),
        _o("--it-layer", "surrogate layer the IT sites read from (ground truth)", default="stage5"),
        _o("--reps", "repetitions (single trials) per image", type=positive_int, default=10),
        _o("--seed", "seed of the readout weights and trial noise", type=nonnegative_int, default=0),
        _write("--out", "assembly (.nc)"),
    ), code=("data", "models")),
    Command("features", "extract every layer's activations for a stimulus set", "models:features", (
        _read("--weights", "weights of a zoo model (goaldriven train); with --model, optional weights of that "
                           "model (.safetensors or a torch state dict)"),
        _read("--model", "an external model instead: " + FACTORY_HELP + " (then --layers names its modules)",
              metavar="FACTORY"),
        _o("--preprocessing", "with --model: " + PREPROCESSING_HELP, choices=PREPROCESSING),
        _read("--stimuli", "stimulus set (.nc)", required=True),
        _o("--model-id", "model name recorded in the output", required=True),
        _o("--layers", "comma-separated layer names (default: every layer)"),
        *group_options(FeatureSpec),
        _o("--batch-size", "stimuli per forward pass", type=positive_int, default=128),
        _o("--image-size", "resize stimuli to this size (default: the network's input size)", type=positive_int),
        _o("--device", "auto: CUDA when available", default="cpu", choices=DEVICE),
        _write("--out", "features file (.nc)"),
    ), groups=(FeatureSpec,), code=("data", "models")),
    Command("external-model", "check an external model (factory, layers, weights) and describe it",
            "models:external_model", (
        _read("--model", FACTORY_HELP, required=True, metavar="FACTORY"),
        _o("--layers", LAYERS_HELP, required=True),
        _o("--name", "the model's name in the tables", required=True),
        _read("--weights", "weights to load into the model (.safetensors or a torch state dict)"),
        _o("--image-size", "input size the stimuli are resized to (recorded; default: a named model's own)",
           type=positive_int),
        _o("--preprocessing", PREPROCESSING_HELP, choices=PREPROCESSING),
        _write("--out", "JSON description (metrics.json of the workflow)"),
    ), code=("data", "models")),
    Command("score", "neural predictivity and RSA of every layer of one model", "compare:score", (
        _read("--features", "features file (goaldriven features)", required=True),
        _read("--recordings", "assembly of site responses", required=True),
        _read("--trials", TRIALS_HELP),
        _o("--benchmark", "benchmark name recorded in the output", default=""),
        *group_options(ScoringSpec),
        _write("--out", "scores (.nc)"),
    ), groups=(ScoringSpec,), code=("data", "models", "compare")),
    Command("score-model", "score your own nn.Module's layers on one benchmark, in one call", "own:score_model", (
        _read("--model", FACTORY_HELP, required=True, metavar="FACTORY"),
        _o("--layers", LAYERS_HELP, required=True),
        _o("--benchmark", "a benchmark name of --configfile, or a folder written by goaldriven import",
           required=True),
        _write_dir("--out", "output folder: scores.csv, scores.nc, features.nc"),
        _read("--weights", "weights to load into the model (.safetensors or a torch state dict)"),
        _o("--name", "model name in the outputs (default: the factory)"),
        _o("--input-size", "resize stimuli to this size (default: a named model's own, else as stored)",
           type=positive_int),
        _o("--preprocessing", PREPROCESSING_HELP, choices=PREPROCESSING),
        _read("--configfile", "config in which to look a benchmark name up (default: config/config.yaml of the "
                              "goaldriven checkout holding the current folder, else of goaldriven's own)"),
        *group_options(ScoringSpec),
        *group_options(FeatureSpec),
        _o("--device", "auto: CUDA when available", default="auto", choices=DEVICE),
    ), groups=(ScoringSpec, FeatureSpec), code=("data", "models", "compare", "study"), job=False),
    Command("score-rdms", "RSA of every layer of one model with published RDMs", "compare:score_rdms", (
        _read("--features", "features file (goaldriven features)", required=True),
        _read("--rdms", "RDM assembly (source x stimulus_a x stimulus_b)", required=True),
        _o("--benchmark", "benchmark name recorded in the output", default=""),
        _o("--bootstraps", "stimulus resamples for the interval (0: no interval)", type=nonnegative_int, default=100),
        _o("--seed", "seed of the bootstrap", type=nonnegative_int, default=0),
        _write("--out", "scores (.nc)"),
    ), code=("data", "models", "compare")),
    Command("similarity", "debiased CKA of every pair of models and layers, with a null; cross-seed vs "
                          "cross-architecture summary and layer correspondence", "compare:similarity", (
        _read("--features", "features files of every model, one benchmark", nargs="+", required=True),
        _read("--stimuli", "the benchmark's stimulus set: raw pixels as a pseudo-model (the floor)"),
        _o("--permutations", "image shuffles for the null", type=positive_int, default=100),
        _o("--max-stimuli", "a seeded subset of the stimuli beyond this", type=positive_int, default=1000),
        _o("--seed", "seed of the shuffles and of the stimulus subset", type=nonnegative_int, default=0),
        _write("--out", "similarity.csv: one row per pair of (model, layer)"),
        _write("--summary", "cross-seed vs cross-architecture at matched depth (CSV)"),
        _write("--correspondence", "layer correspondence per pair of seeds (CSV)"),
    ), code=("data", "models", "compare")),
    Command("matching", "cross-seed unit matching (with chance) and linear predictivity", "compare:matching", (
        _read("--features", "features files of the seeds of one architecture (same stimuli)", nargs="+",
              required=True),
        _o("--max-units", "units per layer matched (seeded subsample)", type=positive_int, default=128),
        _o("--permutations", "stimulus shuffles for chance (19+ to call any unit convergent)", type=positive_int,
           default=20),
        _o("--unit", UNIT_HELP, default=UNIT_DEFAULT, choices=UNITS),
        _write("--out", "CSV: per layer and pair of seeds"),
    ), code=("data", "models", "compare")),
    Command("matching-summary", "trained against untrained unit matching, with intervals over seeds",
            "compare:matching_summary", (
        _read("--tables", "matching tables of every architecture and task (goaldriven matching)", nargs="+",
              required=True),
        _write("--out", "CSV: per architecture, trained task and layer"),
    ), code=("data", "models", "compare")),
    Command("unit-examples", "most and least convergent units of a layer and their top images",
            "compare:unit_examples", (
        _read("--features", "features files of two seeds", nargs=2, required=True,
              metavar=("SEED_A.nc", "SEED_B.nc")),
        _o("--layer", "layer to show (e.g. the top conv layer)", required=True),
        _o("--unit", UNIT_HELP, default=UNIT_DEFAULT, choices=UNITS),
        _o("--n-units", "units of each kind (most, least convergent)", type=positive_int, default=3),
        _o("--top-k", "images per unit", type=positive_int, default=5),
        _o("--max-units", "units matched (seeded subsample)", type=positive_int, default=512),
        _o("--seed", "seed of the unit subsample", type=nonnegative_int, default=0),
        _write("--out", "CSV of the units and their top images"),
    ), code=("data", "models", "compare")),
    Command("seed-variance", "brain-score variance across seeds vs across architectures", "study:seed_variance", (
        _read("--models", "models.csv of goaldriven summarise", required=True),
        _o("--metrics", "columns to analyse (default: every *_ev and *_rsa column)", nargs="+"),
        _o("--level", "interval level", type=probability, default=0.95),
        _write("--out", "CSV: per task and metric, the seed share with architectures fixed and random"),
    ), code=("data.stimulus_ids", "compare.mapping", "study.seed_variance", "study.statistics")),
    Command("summarise", "tidy tables of every model's scores", "study:summarise", (
        _read("--scores", "scores files (goaldriven score, score-rdms)", nargs="+", required=True),
        _read("--metrics", "metrics.json of every model (goaldriven train)", nargs="+", required=True),
        _read("--panel-features", "features of the benchmark whose RDMs the RSA figure shows", nargs="+",
              required=True),
        _read("--panel-data", "that benchmark's assembly or RDM assembly", required=True),
        _read("--surrogate-score", "scores of the surrogate network (recovery check)"),
        _write_dir("--out-dir", "folder of the tables (predictivity.csv, rsa.csv, models.csv, ...)"),
    ), code=("data", "models", "compare", "study.summary", "study.statistics")),
    Command("positive-control", "trained minus untrained, pixels and V1-like controls, with intervals from "
                                "resampling", "study:positive_control", (
        _read("--scores", "predictivity scores of every model (goaldriven score)", nargs="+", default=[]),
        _read("--rdm-features", "features of every model on the RDM benchmark's stimuli", nargs="+"),
        _read("--rdms", "the RDM benchmark's rdms.nc (goaldriven import kriegeskorte92)"),
        _o("--rdm-benchmark", "name of the RDM benchmark in the table", default=""),
        _o("--controls", "names of control models (NAME of NAME/external_seed0)", nargs="+"),
        _o("--bootstraps", "resamples of images and sites (0: no interval)", type=nonnegative_int, default=1000),
        _o("--seed", "seed of the resamples", type=nonnegative_int, default=0),
        _write("--out", "the table (.csv)"),
    ), code=("data", "models", "compare", "study.positive_control", "study.summary", "study.statistics")),
    Command("leaderboard", "every model x area ranked: best layer chosen on held-out sites", "study:leaderboard", (
        _read("--scores", "scores files (goaldriven score, score-rdms)", nargs="+", required=True),
        _o("--bootstraps", "resamples of sites for the 95%% interval (0: no interval)", type=nonnegative_int,
           default=1000),
        _o("--seed", "seed of the site halves and the resamples", type=nonnegative_int, default=0),
        _write("--out-csv", "the ranked table (CSV)"),
        _write("--out-json", "the same as DVC metrics (JSON)"),
    ), code=("data", "models", "compare", "study.leaderboard", "study.summary", "study.statistics")),
    Command("layer-profiles", "per benchmark and area, every model's layer profile (DVC plots)",
            "study:layer_profiles", (
        _read("--predictivity", "predictivity.csv of goaldriven summarise", required=True),
        _write_dir("--out-dir", "folder of one CSV per benchmark and area"),
    ), code=("data", "models", "compare", "study.leaderboard", "study.summary", "study.statistics")),
    Command("trajectory", "neural predictivity of every kept epoch of trained models", "study:trajectory", (
        _read("--models", "folders of goaldriven train (kept epochs in DIR/epochs/, final weights last)",
              nargs="+", required=True),
        _read("--stimuli", "the benchmark's stimuli", required=True),
        _read("--recordings", "assembly of site responses", required=True),
        _read("--trials", TRIALS_HELP),
        _o("--benchmark", "benchmark name recorded in the output", default=""),
        _read("--final-scores", "scores files (goaldriven score) of the final weights, reused instead of "
                                "rescoring", nargs="*", default=()),
        *group_options(ScoringSpec),
        *group_options(FeatureSpec),
        _o("--device", "auto: CUDA when available", default="cpu", choices=DEVICE),
        _write("--out", "CSV: one row per model, epoch and region"),
    ), groups=(ScoringSpec, FeatureSpec),
        code=("data", "models", "compare", "study.trajectory", "study.summary", "study.statistics")),
    Command("trajectory-join", "join per-model trajectory tables into one", "study:trajectory_join", (
        _read("--tables", "CSVs of goaldriven trajectory", nargs="+", required=True),
        _write("--out", "CSV of all models"),
    ), code=("data", "models", "compare", "study.trajectory", "study.summary", "study.statistics")),
    Command("figure", "draw one figure (PNG and PDF)", "study:figure", (
        _o("name", "which figure: " + ", ".join(FIGURES), choices=tuple(FIGURES)),
        _read("--input", "a table (or data) the figure is drawn from, by the name of its input "
                         "(goaldriven.core.registry.FIGURES); repeat for each, a name that takes several "
                         "files repeated", required=True, action="append", metavar="NAME=PATH"),
        _o("--label", "data label shown on the figure", default=""),
        _write("--out", "PNG path; the PDF goes beside it"),
    ), code=("data", "models", "compare", "study.figures", "study.statistics")),
    Command("lineage", "where a result came from, down to raw-data hashes", "provenance:lineage", (
        _read("path", "a result file"),
        _o("--repo", "repository root (holding dvc.yaml)", default="."),
        _o("--format", "plain text or JSON", default="text", choices=("text", "json")),
    ), job=False),
    Command("reproduce", "rerun the job that made a published result and compare it with the lock", "provenance:reproduce", (
        _read("path", "a result file recorded in a committed dvc.lock"),
        _o("--repo", "repository root (holding the dvc.yaml and dvc.lock)", default="."),
        _o("--keep", "keep the rerun outputs in this new folder (default: a scratch folder, removed)"),
        _o("--format", "plain text or JSON", default="text", choices=("text", "json")),
    ), job=False),
    Command("crate", "provenance of the results as a Workflow Run RO-Crate", "provenance:crate", (
        _write_dir("out_dir", "folder to write the crate to (an earlier crate there is replaced; any other "
                              "folder, results/ or data/ is refused)"),
        _o("--results", "results to describe (a folder)", default="results/figures"),
        _o("--repo", "repository root (holding dvc.yaml and dvc.lock)", default="."),
    ), job=False),
)}


def schema_enums() -> dict[str, list]:
    """The config schema's names (its ``$defs``), filled in from here before validation."""
    from .options import POOLINGS, REDUCTIONS

    return {"architecture": list(CANDIDATES), "task": [t for t, spec in TASKS.items() if spec.zoo],
            "importer": [SIMULATED, *(i for i, spec in IMPORTERS.items() if spec.benchmark)],
            "preprocessing": list(PREPROCESSING), "pooling": list(POOLINGS), "reduction": list(REDUCTIONS),
            "criterion": list(CRITERIA), "method": list(METHODS), "unit": list(UNITS), "numerics": list(NUMERICS)}
