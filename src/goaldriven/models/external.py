"""Bring your own model: any ``torch.nn.Module`` as a candidate, its layers read by forward hooks.

A model is named by a package's model name (``torchvision:resnet18``, ``timm:NAME``, ``hf:NAME``,
each ``+weights`` for the package's trained weights: :mod:`goaldriven.models.named`) or by a
*factory*, ``path/to/file.py:function`` or ``package.module:function``, a function taking no
arguments that returns an ``nn.Module`` (or the name of an ``nn.Module`` object itself, ``file.py:model``, as the Python API takes one); optional weights (safetensors or
a ``torch.save``d state dict, loaded with ``weights_only=True``) are loaded into it. Layers are
module names as ``model.named_modules()`` gives them (``"features.3"``, ``"layer4.1.conv2"``);
a forward hook on each keeps its output, so nothing of goaldriven's own network class is needed.

:class:`ExternalModel` has the two things :mod:`goaldriven.features` asks of a network
(``layer_names`` and ``features(x, layers)``) plus its own preprocessing, so its features files
look exactly like the zoo's (same dims, coordinates and attributes) and score the same way.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..core.io import InputError

log = logging.getLogger(__name__)

# Per-channel mean and sd of ImageNet (the torchvision convention), for pixels in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# "model": x/255 standardised with the model's own mean and sd (a named model's package's).
PREPROCESSING = ("imagenet", "unit", "none", "model")


def preprocess(x_uint8: torch.Tensor, preprocessing: str, mean=None, std=None) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float: ``imagenet`` (x/255 standardised per channel with ImageNet's
    mean and sd), ``model`` (x/255 standardised with ``mean`` and ``std``), ``unit`` (x/255, in
    [0, 1]) or ``none`` (the 0-255 values as float)."""
    x = x_uint8.float()
    if preprocessing == "none":
        return x
    x = x / 255.0
    if preprocessing == "unit":
        return x
    if preprocessing in ("imagenet", "model"):
        if preprocessing == "imagenet":
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        elif mean is None or std is None:
            raise InputError("preprocessing 'model': the model has no mean and sd of its own "
                             "(only a named model, torchvision:/timm:/hf:, has); choose imagenet, unit or none")
        mean = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std
    raise InputError(f"preprocessing: {preprocessing!r} is not one of {list(PREPROCESSING)}")


def _import_file(path: Path, factory: str):
    name = f"goaldriven_external_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: not a Python file (factory {factory!r})")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        del sys.modules[name]
        raise InputError(f"{path}: importing it failed ({type(e).__name__}: {e})") from None
    return module


def load_factory(factory: str):
    """The function a factory string names: ``file.py:function`` or ``package.module:function``."""
    where, sep, func = str(factory).rpartition(":")
    if not sep or not where or not func:
        raise InputError(f"factory {factory!r}: expected FILE.py:FUNCTION or package.module:FUNCTION")
    if where.endswith(".py") or "/" in where or "\\" in where:
        path = Path(where)
        if not path.is_file():
            raise InputError(f"{path}: factory file not found (factory {factory!r})")
        module, origin = _import_file(path, factory), str(path)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as e:
            raise InputError(f"factory {factory!r}: cannot import module {where!r} ({e})") from None
        origin = where
    fn = getattr(module, func, None)
    if fn is None or not callable(fn):  # (an nn.Module object is callable too: it is taken as it is)
        raise InputError(f"{origin}: no function or nn.Module {func!r} (factory {factory!r})")
    return fn


def _load_state(model: nn.Module, weights, factory: str) -> None:
    path = Path(weights)
    if not path.is_file():
        raise InputError(f"{path}: weights file not found (model {factory!r})")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            # weights_only: tensors and plain containers only, never arbitrary pickled objects.
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise InputError(f"{path}: not a readable weights file ({type(e).__name__}: {e})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InputError(f"{path}: expected a state dict (name -> tensor), got {type(state).__name__}")
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise InputError(f"{path}: does not fit the model of {factory!r} ({' '.join(first[:3])})") from None


@dataclass
class ExternalModel:
    """A module and how to show it stimuli; ``features(x, layers)`` runs it with hooks."""

    module: nn.Module
    name: str = "external"
    input_size: int | None = None
    preprocessing: str = "imagenet"
    source: str = ""  # the factory (or "python object"), recorded in the features' attrs
    mean: tuple[float, ...] | None = None  # preprocessing "model": the model's own mean and sd, for x/255
    std: tuple[float, ...] | None = None
    input_kwarg: str | None = None  # the forward's keyword for the images (transformers: pixel_values)

    def __post_init__(self):
        if not isinstance(self.module, nn.Module):
            raise InputError(f"{self.source or self.name}: expected a torch.nn.Module, "
                             f"got {type(self.module).__name__}")
        if self.preprocessing not in PREPROCESSING:
            raise InputError(f"{self.source or self.name}: preprocessing {self.preprocessing!r} is not one of "
                             f"{list(PREPROCESSING)}")
        if self.preprocessing == "model":
            if self.mean is None or self.std is None:
                raise InputError(f"{self.source or self.name}: preprocessing 'model': no mean and sd of its own "
                                 "(only a named model, torchvision:/timm:/hf:, has them); choose imagenet, unit "
                                 "or none")
            if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
                raise InputError(f"{self.source or self.name}: preprocessing 'model': need 3 means and 3 positive "
                                 f"sds, got {self.mean} and {self.std}")
        self.module.eval()

    def __str__(self) -> str:
        return self.source or self.name

    @property
    def layer_names(self) -> list[str]:
        return [n for n, _ in self.module.named_modules() if n]

    def check_layers(self, layers) -> list[str]:
        """The layers, checked: every name must be a module of the model (else a one-line
        error listing the names it has)."""
        layers = list(layers)
        if not layers:
            raise InputError(f"{self}: layers: name at least one module of the model; it has {self.layer_names}")
        have = set(self.layer_names)
        unknown = [n for n in layers if n not in have]
        if unknown:
            raise InputError(f"{self}: layers: no module {unknown[0]!r} in the model; it has {self.layer_names}")
        return layers

    def to(self, device):
        self.module.to(device)
        return self

    def normalise(self, x_uint8: torch.Tensor) -> torch.Tensor:
        return preprocess(x_uint8, self.preprocessing, self.mean, self.std)

    @torch.no_grad()
    def features(self, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        """``{layer: output}`` of one forward pass; hooks are removed afterwards."""
        modules = dict(self.module.named_modules())
        got: dict[str, torch.Tensor] = {}
        handles = []
        for name in layers:
            def hook(_module, _inputs, output, name=name):
                if isinstance(output, (tuple, list)):  # e.g. an RNN's (output, state): the output
                    output = output[0]
                if not isinstance(output, torch.Tensor):
                    raise InputError(f"{self}: layers: module {name!r} returns {type(output).__name__}, "
                                     "not a tensor")
                got[name] = output
            handles.append(modules[name].register_forward_hook(hook))
        try:
            self.module(**{self.input_kwarg: x}) if self.input_kwarg else self.module(x)
        except InputError:
            raise
        except Exception as e:  # the model refused the images (e.g. a size it cannot take): one line
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            raise InputError(f"{self}: the forward pass failed on a batch of shape {tuple(x.shape)} "
                             f"({type(e).__name__}: {first[:300]}); see --input-size") from None
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in layers if n not in got]
        if missing:
            raise InputError(f"{self}: layers: module {missing[0]!r} is not called in the model's forward pass")
        for n in layers:  # features are one row per image: a scalar or a batch-less output is not
            if got[n].dim() == 0 or got[n].shape[0] != len(x):
                raise InputError(f"{self}: layers: module {n!r} returns a tensor of shape {tuple(got[n].shape)}, "
                                 f"not one row per image (the batch has {len(x)} images)")
        return {n: got[n] for n in layers}


def load_named(spec: str, layers=None, input_size: int | None = None, preprocessing: str | None = None,
               weights=None, name: str | None = None) -> ExternalModel | None:
    """A package's model by name (``torchvision:resnet18[+weights]``, ``timm:NAME``, ``hf:NAME``;
    :mod:`goaldriven.models.named`) with the package's preprocessing unless ``preprocessing``
    or ``input_size`` says otherwise; None when ``spec`` is not such a name."""
    from . import named

    model_name = named.parse(spec)
    if model_name is None:
        return None
    if weights and model_name.pretrained:
        raise InputError(f"model {model_name}: both the package's weights ({named.WEIGHTS}) and --weights {weights}; "
                         f"give one (--weights FILE with {model_name.package}:{model_name.name})")
    built = named.build(model_name)
    source = str(model_name)
    if weights:
        _load_state(built.module, weights, source)
    model = ExternalModel(built.module, name=name or source, input_size=input_size or built.input_size,
                          preprocessing=preprocessing or ("model" if built.mean and built.std else "imagenet"),
                          source=source, mean=built.mean, std=built.std, input_kwarg=built.input_kwarg)
    if layers is not None:
        model.check_layers(layers)
    return model


def load_external(factory, layers=None, input_size: int | None = None, preprocessing: str | None = None,
                  weights=None, name: str | None = None) -> ExternalModel:
    """Build the model a name or factory gives (or wrap a given ``nn.Module``), load its weights,
    check its layers. ``preprocessing``: default ``model`` (the package's own) for a named model
    (``torchvision:``, ``timm:``, ``hf:``), else ``imagenet``."""
    if isinstance(factory, str) and (model := load_named(factory, layers, input_size, preprocessing, weights,
                                                         name)) is not None:
        return model
    preprocessing = preprocessing or "imagenet"
    if isinstance(factory, str) and isinstance(loaded := load_factory(factory), nn.Module):
        factory, name = loaded, name or str(factory)  # FILE.py:OBJECT names a module object, not a factory
    if isinstance(factory, nn.Module):
        module, source = factory, name or type(factory).__name__
    else:
        fn = factory if callable(factory) else load_factory(factory)
        source = str(factory) if not callable(factory) else getattr(fn, "__qualname__", "factory")
        try:
            module = fn()
        except InputError:
            raise
        except Exception as e:
            raise InputError(f"{source}: the factory failed ({type(e).__name__}: {e})") from None
        if not isinstance(module, nn.Module):
            raise InputError(f"{source}: the factory returned {type(module).__name__}, not a torch.nn.Module")
    if weights:
        _load_state(module, weights, source)
    model = ExternalModel(module, name=name or source, input_size=input_size, preprocessing=preprocessing,
                          source=source)
    if layers is not None:
        model.check_layers(layers)
    return model


def describe(model: ExternalModel, name: str, factory: str, layers, weights=None) -> dict:
    """What the workflow records of an external model (its metrics.json): the fields the
    summary tables read of a zoo model (config arch/task/seed; no test accuracy), and how it
    was built."""
    config = {"arch": name, "task": "external", "seed": 0, "factory": str(factory), "layers": list(layers),
              "input_size": model.input_size, "preprocessing": model.preprocessing, "weights": str(weights or "")}
    if model.preprocessing == "model":  # the numbers behind "model"
        config.update(mean=list(model.mean), std=list(model.std))
    return {"config": config,
            "test_accuracy": None, "external": True,
            "n_parameters": int(sum(p.numel() for p in model.module.parameters())),
            "modules": model.layer_names}
