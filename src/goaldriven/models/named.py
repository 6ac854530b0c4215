"""Models by name from torchvision, timm and Hugging Face transformers: ``torchvision:resnet18``,
``timm:convnext_tiny``, ``hf:vit`` or ``hf:google/vit-base-patch16-224``.

``PACKAGE:NAME`` is the architecture at a seeded random initialisation (``torch.manual_seed(0)``
around the build, so two runs give the same features); ``PACKAGE:NAME+weights`` loads the
package's own trained weights, which it downloads (to its cache) the first time: offline that is
a one-line error, and the way out is the plain name with ``--weights FILE``. Each package is an
optional extra of goaldriven (``pip install 'goaldriven[torchvision]'``, ``[timm]``, ``[hf]``),
imported only when a name of it is asked for; a missing one is a one-line error naming the extra.

Preprocessing is the package's own unless told otherwise: the input size, mean and sd of the
model's weights (torchvision: the weights' ``transforms()``, also for a random init when the
architecture has published weights; timm: the model's ``pretrained_cfg``; transformers: the
config's ``image_size`` and the image processor's mean and sd: the hub's for a hub id, the model
type's default processor for a type). Stimuli are resized whole to that size (no centre crop: a
benchmark's images are already framed).

``hf:NAME``: a model *type* of transformers (``vit``, ``dinov2``, ``convnext``...) builds
``AutoModel.from_config(AutoConfig.for_model(NAME))``, its default configuration, with nothing to
download; anything else is a hub id or a local folder (``AutoConfig.from_pretrained``, or with
``+weights`` ``AutoModel.from_pretrained``). Its images go in as ``pixel_values``.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

import torch
from torch import nn

from ..core.io import InputError

log = logging.getLogger(__name__)

WEIGHTS = "+weights"  # PACKAGE:NAME+weights: the package's own trained weights (a download)


@dataclass(frozen=True)
class Package:
    prefix: str
    module: str  # what is imported
    extra: str  # goaldriven's optional extra that installs it
    doc: str


PACKAGES = {p.prefix: p for p in (
    Package("torchvision", "torchvision", "torchvision", "torchvision.models (get_model)"),
    Package("timm", "timm", "timm", "timm.create_model"),
    Package("hf", "transformers", "hf", "Hugging Face transformers (AutoModel)"),
)}


@dataclass(frozen=True)
class ModelName:
    """``PACKAGE:NAME[+weights]``, parsed."""

    package: str
    name: str
    pretrained: bool = False

    def __str__(self) -> str:
        return f"{self.package}:{self.name}{WEIGHTS if self.pretrained else ''}"


@dataclass
class Built:
    """A named model and the package's preprocessing for it."""

    module: nn.Module
    input_size: int | None
    mean: tuple[float, float, float] | None
    std: tuple[float, float, float] | None
    input_kwarg: str | None = None  # the forward's keyword for the images (transformers: pixel_values)
    preprocessing_source: str = ""


def parse(spec) -> ModelName | None:
    """The model name ``spec`` spells, or None when it is not ``torchvision:``/``timm:``/``hf:``
    (a factory, ``file.py:function`` or ``package.module:function``)."""
    if not isinstance(spec, str):
        return None
    prefix, sep, rest = spec.partition(":")
    if not sep or prefix not in PACKAGES:
        return None
    name, pretrained = rest, rest.endswith(WEIGHTS)
    if pretrained:
        name = rest[:-len(WEIGHTS)]
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise InputError(f"model {spec!r}: expected {prefix}:NAME (random init) or {prefix}:NAME{WEIGHTS} "
                         f"(the package's trained weights)")
    return ModelName(prefix, name, pretrained)


def import_package(model: ModelName):
    """The package of ``model``, imported now; not installed (or broken): a one-line error that
    names goaldriven's extra to install."""
    package = PACKAGES[model.package]
    install = f"pip install 'goaldriven[{package.extra}]'"
    try:
        return importlib.import_module(package.module)
    except ImportError as e:
        missing = getattr(e, "name", None) or package.module
        if missing.split(".")[0] != package.module:
            why = f"{package.module} needs {missing.split('.')[0]}, which is not installed"
        else:
            why = f"{package.module} is not installed"
        raise InputError(f"model {model}: {why}; install goaldriven's {package.extra} extra: {install}") from None
    except Exception as e:  # installed, but does not load (e.g. built for another torch)
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise InputError(f"model {model}: {package.module} is installed but does not import ({type(e).__name__}: "
                         f"{first}); reinstall it to match torch {torch.__version__}: {install}") from None


def _offline(model: ModelName, what: str, e: Exception) -> InputError:
    """A download (or build) that failed, in one line, with the way to do without the network."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if model.package == "hf":
        hint = ("; without a connection, save it where there is one (save_pretrained) and name the folder: "
                "hf:path/to/folder")
    elif model.pretrained:
        hint = (f"; without a connection, download the weights where there is one and give "
                f"{model.package}:{model.name} --weights FILE")
    else:
        hint = ""
    return InputError(f"model {model}: {what} failed ({type(e).__name__}: {first[:240]}){hint}")


def _seeded(build):
    """``build()`` at a fixed seed, without touching the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


def _triple(values, fallback):
    if values is None:
        return fallback
    values = tuple(float(v) for v in (values if isinstance(values, (list, tuple)) else [values]))
    return values * 3 if len(values) == 1 else values[:3]


# ----------------------------------------------------------------------------- torchvision
def _torchvision(model: ModelName) -> Built:
    from .external import IMAGENET_MEAN, IMAGENET_STD

    tv = import_package(model)
    models = tv.models
    try:
        builder = models.get_model_builder(model.name)
    except ValueError:
        names = sorted(models.list_models())
        raise InputError(f"model {model}: torchvision has no model {model.name!r}; it has {len(names)}, e.g. "
                         f"{names[:12]}") from None
    try:
        default = models.get_model_weights(model.name).DEFAULT
    except (ValueError, AttributeError, KeyError):
        default = None
    if model.pretrained and default is None:
        raise InputError(f"model {model}: torchvision publishes no weights for {model.name!r}; use {model.package}:"
                         f"{model.name} (random init) or --weights FILE")
    try:
        module = _seeded(lambda: builder(weights=default if model.pretrained else None))
    except Exception as e:
        raise _offline(model, "downloading its weights" if model.pretrained else "building it", e) from None
    size, mean, std, source = 224, IMAGENET_MEAN, IMAGENET_STD, "torchvision's ImageNet convention (224 px)"
    if default is not None:
        try:
            t = default.transforms()
            crop = getattr(t, "crop_size", None)
            size = int(crop[0] if isinstance(crop, (list, tuple)) else crop) if crop else size
            mean, std = _triple(getattr(t, "mean", None), mean), _triple(getattr(t, "std", None), std)
            source = f"torchvision's {default} transforms"
        except Exception as e:  # a weights enum without image transforms: the convention
            log.debug("%s: no transforms (%s)", model, e)
    return Built(module, size, mean, std, preprocessing_source=source)


# ----------------------------------------------------------------------------- timm
def _timm(model: ModelName) -> Built:
    timm = import_package(model)
    try:
        module = _seeded(lambda: timm.create_model(model.name, pretrained=model.pretrained))
    except RuntimeError as e:
        if "Unknown model" in str(e):
            close = timm.list_models(f"*{model.name.split('.')[0][:6]}*")[:12]
            raise InputError(f"model {model}: timm has no model {model.name!r} (close: {close})") from None
        raise _offline(model, "downloading its weights" if model.pretrained else "building it", e) from None
    except Exception as e:
        raise _offline(model, "downloading its weights" if model.pretrained else "building it", e) from None
    data = getattr(timm, "data", None) or importlib.import_module("timm.data")
    cfg = data.resolve_model_data_config(module)
    size = cfg.get("input_size")
    size = int(size[-1]) if size else None
    return Built(module, size, _triple(cfg.get("mean"), None), _triple(cfg.get("std"), None),
                 preprocessing_source="timm's pretrained_cfg")


# ----------------------------------------------------------------------------- transformers
def _processor_defaults(transformers, model_type: str):
    """The default image processor of a model type (no download), or None."""
    from transformers.models.auto import image_processing_auto as auto

    names = auto.IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type)
    if not names:
        return None
    if isinstance(names, dict):  # transformers 5: one class per backend; pil needs no torchvision
        candidates = [names.get("pil"), names.get("torchvision"), *names.values()]
    else:  # transformers 4: (slow, fast)
        candidates = list(names) if isinstance(names, (list, tuple)) else [names]
    for name in filter(None, candidates):
        try:
            cls = auto.get_image_processor_class_from_name(name)
            if cls is not None:
                return cls()
        except Exception as e:  # e.g. a backend whose package is missing: the next one
            log.debug("%s: image processor %s unavailable (%s)", model_type, name, e)
    return None


def _processor_size(processor) -> int | None:
    for attr in ("crop_size", "size"):
        if attr == "crop_size" and getattr(processor, "do_center_crop", True) is False:
            continue
        size = getattr(processor, attr, None)
        if size is None:
            continue
        get = size.get if hasattr(size, "get") else (lambda k, s=size: getattr(s, k, None))
        for key in ("height", "shortest_edge"):
            if get(key):
                return int(get(key))
        if isinstance(size, int):
            return size
    return None


def _hf(model: ModelName) -> Built:
    from pathlib import Path

    transformers = import_package(model)
    from transformers import AutoConfig, AutoModel
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    is_type = model.name in CONFIG_MAPPING and not Path(model.name).exists()
    processor = None
    if is_type:
        if model.pretrained:
            raise InputError(f"model {model}: {model.name!r} is a model type of transformers, which has no weights; "
                             f"name a hub id (hf:ORG/NAME{WEIGHTS}) or use hf:{model.name} (random init)")
        config = AutoConfig.for_model(model.name)
        try:
            module = _seeded(lambda: AutoModel.from_config(config))
        except Exception as e:
            raise _offline(model, "building it", e) from None
    else:
        try:
            if model.pretrained:
                module = AutoModel.from_pretrained(model.name)
                config = module.config
            else:
                config = AutoConfig.from_pretrained(model.name)
                module = _seeded(lambda: AutoModel.from_config(config))
        except Exception as e:
            raise _offline(model, f"{model.name!r} is not a model type of transformers, and loading it from the "
                                  "Hugging Face hub (or a local folder)", e) from None
        try:
            from transformers import AutoImageProcessor

            processor = AutoImageProcessor.from_pretrained(model.name)
        except Exception as e:  # no processor published: the model type's default one
            log.debug("%s: no image processor of its own (%s)", model, e)
    source = f"the image processor of {model.name}"
    if processor is None:
        processor = _processor_defaults(transformers, config.model_type)
        source = f"the default image processor of model type {config.model_type!r}"
    size = getattr(config, "image_size", None)  # ViT-like models accept only this size
    size = int(size[0] if isinstance(size, (list, tuple)) else size) if size else None
    mean = std = None
    if processor is not None:
        size = size or _processor_size(processor)
        if getattr(processor, "do_normalize", True):
            mean, std = _triple(getattr(processor, "image_mean", None), None), _triple(
                getattr(processor, "image_std", None), None)
        else:
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    module = module.to(torch.float32)
    return Built(module, size, mean, std, input_kwarg="pixel_values",
                 preprocessing_source=source if processor is not None else "")


BUILDERS = {"torchvision": _torchvision, "timm": _timm, "hf": _hf}


def build(model: ModelName) -> Built:
    """The module a name gives, with the package's preprocessing for it."""
    built = BUILDERS[model.package](model)
    if not isinstance(built.module, nn.Module):
        raise InputError(f"model {model}: the package returned {type(built.module).__name__}, not a torch.nn.Module")
    log.info("%s: %s, input %s px, mean %s, sd %s (%s)", model,
             "the package's trained weights" if model.pretrained else "random init (seed 0)", built.input_size,
             built.mean, built.std, built.preprocessing_source or "no preprocessing of its own")
    return built
