"""Option groups: one dataclass each, one name per option from config to code.

A field's name is the config key (``features.projection_seed``), the Python argument
(``FeatureSpec(projection_seed=0)``) and the command-line option (``--projection-seed``); its
default and help are written here once. :func:`add_options` builds a command's options from a
group and :func:`from_args` builds the group back from the parsed arguments. The workflow's
defaults are the config schema's (workflow/schemas/config.schema.yaml); tests/unit/test_options.py
checks that the two agree and that every config key of a group is a field here.

Standard library only: the command line builds its parser from these without importing torch.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, field, fields
from numbers import Integral

from .io import InputError

POOLINGS = ("none", "avg", "max")
REDUCTIONS = ("none", "sparse", "gaussian", "pca")
# How ridge picks each site's penalty (goaldriven.compare.ridge solves each).
CRITERIA = {"loo": "efficient leave-one-out", "gcv": "generalised cross-validation"}
# Scoring methods by name (their implementations: goaldriven.compare.methods.METHOD_CLASSES).
METHODS = {
    "ridge": "ridge per site, penalty by exact leave-one-out in each training fold; goaldriven's aggregates",
    "pls": "Brain-Score's protocol: PLS-25 on its shuffle splits (random_state 1), its ceiling and aggregates",
}
NUMERICS = {
    "portable": "the same bits on any x86-64 machine with AVX2: vector ISA capped at AVX2 (oneDNN, ATen, "
                "MKL, OpenBLAS), one thread per job, deterministic algorithms",
    "fast": "whatever the machine offers (AVX-512, AMX, threads): faster, but bits differ between machines",
}


def _number(text: str, kind: type, ok, expected: str):
    """Parse ``text`` as ``kind`` and check it with ``ok``; the argparse error names what was
    expected and what was given."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not ok(value):  # NaN fails every comparison, so ok() refuses it too
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (sizes, counts): 0 or a negative one is refused at parsing."""
    return _number(text, int, lambda v: v >= 1, "an integer >= 1")


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (seeds): a negative one is refused at parsing."""
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


# Most cross-validation splits a scoring command takes: each split refits every site of every
# layer, so more than this is a typo (--splits 100000), not a protocol; Brain-Score uses 10.
MAX_SPLITS = 1000


def split_count(text: str) -> int:
    """Cross-validation splits: an integer from 2 (one split trains on nothing held out) to
    :data:`MAX_SPLITS`."""
    return _number(text, int, lambda v: 2 <= v <= MAX_SPLITS, f"an integer from 2 to {MAX_SPLITS}")


def probability(text: str) -> float:
    """A level strictly between 0 and 1 (an interval's coverage)."""
    return _number(text, float, lambda v: 0 < v < 1, "a number between 0 and 1")


def variation_counts(text: str) -> dict[int, int]:
    """'0:1,3:4,6:5' -> {0: 1, 3: 4, 6: 5} (images per object at each variation level)."""
    try:
        counts = {int(k): int(v) for k, v in (item.split(":") for item in text.split(","))}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LEVEL:COUNT[,LEVEL:COUNT...], got {text!r}") from None
    if any(v < 0 for v in counts.values()) or not any(counts.values()):
        raise argparse.ArgumentTypeError(f"expected counts >= 0, not all 0, got {text!r}")
    return counts


def epoch_list(text: str) -> tuple[int, ...]:
    """'1,2,4' -> (1, 2, 4)."""
    try:
        return tuple(int(e) for e in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected EPOCH[,EPOCH...], got {text!r}") from None


def option(default=MISSING, help: str = "", choices=None, type=None):
    """A field of an option group: its default (none: a required option), help, valid values
    and command-line parser (default: from the annotation)."""
    return field(default=default, metadata={"help": help, "choices": choices, "type": type})


def flag(name: str) -> str:
    """The command-line spelling of a field: ``max_features`` -> ``--max-features``."""
    return "--" + name.replace("_", "-")


_TYPES = {"int": int, "float": float, "str": str, "int | None": int}


def add_options(parser, group, skip=(), defaults=None) -> None:
    """Add one option per field of ``group`` (a dataclass) to an argparse parser; ``defaults``
    overrides a field's default for this command only (say why where it is used)."""
    for f in fields(group):
        if f.name in skip:
            continue
        default = (defaults or {}).get(f.name, f.default)
        kind = f.metadata.get("type") or _TYPES[f.type]
        parser.add_argument(flag(f.name), dest=f.name, type=kind, choices=f.metadata.get("choices"),
                            help=f.metadata.get("help"),
                            **({"required": True} if default is MISSING else {"default": default}))


def from_args(group, args, **given):
    """The option group of a parsed command line (``given``: fields that are not options)."""
    return group(**{f.name: getattr(args, f.name) for f in fields(group) if f.name not in given}, **given)


@dataclass(frozen=True)
class FeatureSpec:
    """How every layer is reduced before it is stored (config ``features``; all recorded in
    the features file's attributes, so a different choice is a different file).

    ``pooling`` is applied to convolutional layers only (fully connected layers have no
    space); the reduction to ``max_features`` columns applies to the layers wider than that.
    """

    pooling: str = option("none", "spatial pooling of conv layers, to a --pool-grid square grid", POOLINGS)
    pool_grid: int = option(1, "side of the pooling grid (1: global pooling)", type=positive_int)
    reduction: str = option("sparse", "how layers wider than --max-features are reduced to that width", REDUCTIONS)
    max_features: int | None = option(4096, "width above which a layer is reduced")
    projection_seed: int = option(0, "seed of the random projection (pca needs none)", type=nonnegative_int)

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise InputError(f"unknown pooling {self.pooling!r}; choose from {POOLINGS}")
        if self.pool_grid < 1:
            raise InputError(f"pool_grid must be at least 1, not {self.pool_grid}")
        if self.projection_seed < 0:
            raise InputError(f"projection_seed must be an integer >= 0, not {self.projection_seed}")
        if self.reduction not in REDUCTIONS:
            raise InputError(f"unknown reduction {self.reduction!r}; choose from {REDUCTIONS}")
        if self.reduction != "none" and (self.max_features is None or self.max_features < 1):
            raise InputError(f"reduction {self.reduction!r} needs max_features >= 1, not {self.max_features}")

    @property
    def reduces(self) -> bool:
        return self.reduction != "none"

    def attrs(self) -> dict:
        return {"pooling": self.pooling, "pool_grid": self.pool_grid, "reduction": self.reduction,
                "projection_seed": self.projection_seed,
                # netCDF attributes cannot be None: 0 means "no width limit".
                "max_features": self.max_features if self.reduces else 0}


@dataclass(frozen=True)
class ScoringSpec:
    """How a model's layers are mapped to sites (config ``comparison``: the keys the scoring
    commands read)."""

    splits: int = option(10, "cross-validation folds of the ridge mapping (--method pls: Brain-Score's "
                             f"shuffle splits), 2 to {MAX_SPLITS}", type=split_count)
    seed: int = option(0, "seed of the ridge folds and ceilings (--method pls: Brain-Score's random_state=1)",
                       type=nonnegative_int)
    criterion: str = option("loo", "how ridge picks each site's penalty: exact leave-one-out or generalised "
                                   "cross-validation", tuple(CRITERIA))
    method: str = option("ridge", "ridge: goaldriven's mapping and aggregates; pls: Brain-Score's protocol "
                                  "throughout (PLS-25, its splits and seed, its ceiling and aggregates; "
                                  "goaldriven.brainscore)", tuple(METHODS))

    alpha_low: float = option(1e-3, "smallest ridge penalty tried, relative to the features' total variance")
    alpha_high: float = option(100.0, "largest ridge penalty tried, relative to the features' total variance")
    alpha_steps: int = option(11, "ridge penalties tried, log-spaced from --alpha-low to --alpha-high",
                              type=positive_int)

    def __post_init__(self):
        # Python callers get the command line's checks (split_count, nonnegative_int, positive_int).
        if not (isinstance(self.splits, Integral) and 2 <= self.splits <= MAX_SPLITS):
            raise InputError(f"splits: need an integer from 2 to {MAX_SPLITS}, got {self.splits!r}")
        if not (isinstance(self.seed, Integral) and self.seed >= 0):
            raise InputError(f"seed: need an integer >= 0, got {self.seed!r}")
        if not (isinstance(self.alpha_steps, Integral) and self.alpha_steps >= 1):
            raise InputError(f"alpha_steps: need an integer >= 1, got {self.alpha_steps!r}")
        if not (0 < self.alpha_low <= self.alpha_high < float("inf")):  # NaN fails too
            raise InputError(f"ridge penalties: need 0 < alpha_low <= alpha_high, got {self.alpha_low}, "
                             f"{self.alpha_high}")
        if self.method not in METHODS:
            raise InputError(f"unknown comparison method {self.method!r}; choose from {tuple(METHODS)}")
        if self.criterion not in CRITERIA:
            raise InputError(f"unknown criterion {self.criterion!r}; choose from {tuple(CRITERIA)}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run (``goaldriven train``); the workflow fills it from config ``models``
    and ``training``. Checked in :func:`goaldriven.train.train` (architectures and tasks live
    with the networks)."""

    arch: str = option(help="architecture")
    seed: int = option(help="seed of initialisation and data order", type=nonnegative_int)
    epochs: int = option(help="training epochs (0 for untrained)", type=nonnegative_int)
    task: str = option("supervised", "objective")
    width: float = option(1.0, "channel-width multiplier of the architecture")
    batch_size: int = option(64, "images per SGD step", type=positive_int)
    lr: float = option(0.05, "learning rate (SGD with momentum, cosine schedule)")
    weight_decay: float = option(5e-4, "L2 penalty of SGD")
    # Standard small-image augmentation: a random crop of the image padded by this many pixels
    # (reflected) and a random horizontal flip, drawn per image. 0 = the images as they are.
    augment_pad: int = option(0, "random crops of the image padded by this many pixels, and flips (0: none)",
                              type=nonnegative_int)
    label_smoothing: float = option(0.0, "label smoothing of the cross-entropy (0: none)")


@dataclass(frozen=True)
class NumericsSpec:
    """How floating-point work is done (config ``numerics``; every command's ``--numerics``).

    ``portable`` pins what makes bits differ between machines before torch and the BLAS
    libraries load (goaldriven.core.numerics), so a published result reruns to the same bytes
    on another x86-64 machine; ``fast`` lets each library use the machine's widest vector
    instructions and threads."""

    numerics: str = option("portable", "portable: the same bits on any x86-64 machine with AVX2 (ISA capped, one "
                                       "thread); fast: the machine's widest vectors and threads", tuple(NUMERICS))

    def __post_init__(self):
        if self.numerics not in NUMERICS:
            raise InputError(f"unknown numerics {self.numerics!r}; choose from {tuple(NUMERICS)}")
