"""Option groups: one dataclass each, one name per option from config to code.

A field's name is the config key (``features.projection_seed``), the Python argument
(``FeatureSpec(projection_seed=0)``) and the command-line option (``--projection-seed``); its
default and help are written here once. :func:`add_options` builds a command's options from a
group and :func:`from_args` builds the group back from the parsed arguments. The workflow's
defaults are the config schema's (workflow/schemas/config.schema.yaml); tests/test_options.py
checks that the two agree and that every config key of a group is a field here.

Standard library only: the command line builds its parser from these without importing torch.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, field, fields

from .io import InputError

POOLINGS = ("none", "avg", "max")
REDUCTIONS = ("none", "sparse", "gaussian", "pca")
CRITERIA = ("loo", "gcv")  # goaldriven.ridge.CRITERIA's keys (a test checks)
METHODS = ("ridge", "pls")


def positive_int(text: str) -> int:
    """An integer >= 1 (sizes, counts): 0 or a negative one is refused at parsing."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


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
    pool_grid: int = option(1, "side of the pooling grid (1: global pooling)")
    reduction: str = option("sparse", "how layers wider than --max-features are reduced to that width", REDUCTIONS)
    max_features: int | None = option(4096, "width above which a layer is reduced")
    projection_seed: int = option(0, "seed of the random projection (pca needs none)")

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise InputError(f"unknown pooling {self.pooling!r}; choose from {POOLINGS}")
        if self.pool_grid < 1:
            raise InputError(f"pool_grid must be at least 1, not {self.pool_grid}")
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
                             "shuffle splits)", type=positive_int)
    seed: int = option(0, "seed of the ridge folds and ceilings (--method pls: Brain-Score's random_state=1)")
    criterion: str = option("loo", "how ridge picks each site's penalty: exact leave-one-out or generalised "
                                   "cross-validation", CRITERIA)
    method: str = option("ridge", "ridge: goaldriven's mapping and aggregates; pls: Brain-Score's protocol "
                                  "throughout (PLS-25, its splits and seed, its ceiling and aggregates; "
                                  "goaldriven.brainscore)", METHODS)

    def __post_init__(self):
        if self.method not in METHODS:
            raise InputError(f"unknown comparison method {self.method!r}; choose from {METHODS}")
        if self.criterion not in CRITERIA:
            raise InputError(f"unknown criterion {self.criterion!r}; choose from {CRITERIA}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run (``goaldriven train``); the workflow fills it from config ``models``
    and ``training``. Checked in :func:`goaldriven.train.train` (architectures and tasks live
    with the networks)."""

    arch: str = option(help="architecture")
    seed: int = option(help="seed of initialisation and data order")
    epochs: int = option(help="training epochs (0 for untrained)")
    task: str = option("supervised", "objective")
    width: float = option(1.0, "channel-width multiplier of the architecture")
    batch_size: int = option(64, "images per SGD step", type=positive_int)
    lr: float = option(0.05, "learning rate (SGD with momentum, cosine schedule)")
    weight_decay: float = option(5e-4, "L2 penalty of SGD")
    # Standard small-image augmentation: a random crop of the image padded by this many pixels
    # (reflected) and a random horizontal flip, drawn per image. 0 = the images as they are.
    augment_pad: int = option(0, "random crops of the image padded by this many pixels, and flips (0: none)")
    label_smoothing: float = option(0.0, "label smoothing of the cross-entropy (0: none)")
