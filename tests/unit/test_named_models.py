"""Models by name: torchvision:NAME, timm:NAME, hf:NAME (+weights), through optional extras.

transformers is in the test extra, so the hf: tests run everywhere the tests run (CI too): a model
type at random init (no download), a local folder saved with save_pretrained (the hub id path,
offline), and a hub id offline (a one-line error). torchvision and timm do not install beside
this torch (they pull another torch build): their names, their "install the extra" errors and
goaldriven's glue (weights, preprocessing, download errors) are tested against stand-in packages
that mimic the parts of their APIs goaldriven calls; the real packages are not tested here.
"""

import json
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from goaldriven import cli
from goaldriven.core.io import InputError
from goaldriven.core.registry import NAMED_MODELS, factory_file
from goaldriven.data.stimulus_sets import load_stimulus_set
from goaldriven.models import named
from goaldriven.models.external import load_external, preprocess
from goaldriven.models.features import extract, extract_to_netcdf, open_features
from workflow_helpers import REPO, env_for


# ----------------------------------------------------------------------------- names
def test_names_parse_and_factories_are_not_names():
    assert set(named.PACKAGES) == set(NAMED_MODELS)  # declared once in the registry, implemented here
    assert named.parse("torchvision:resnet18") == named.ModelName("torchvision", "resnet18", False)
    assert named.parse("torchvision:resnet18+weights") == named.ModelName("torchvision", "resnet18", True)
    assert named.parse("timm:vit_base_patch16_224.augreg_in21k+weights").name == "vit_base_patch16_224.augreg_in21k"
    assert named.parse("hf:google/vit-base-patch16-224") == named.ModelName("hf", "google/vit-base-patch16-224")
    assert str(named.parse("hf:vit+weights")) == "hf:vit+weights"
    for factory in ("examples/my_model.py:build", "torch.nn:Identity", "goaldriven.models.controls:pixels",
                    "timm.models:create_model", "C:/models/net.py:build"):
        assert named.parse(factory) is None, factory
    for bad in ("torchvision:", "timm:+weights", "hf:a b", "torchvision:resnet18+imagenet"):
        with pytest.raises(InputError, match="expected .*:NAME"):
            named.parse(bad)
    # a name is no file: nothing for the command line to protect or the workflow to track
    assert factory_file("hf:google/vit-base-patch16-224") is None and factory_file("torchvision:resnet18") is None
    assert factory_file("examples/my_model.py:build") == "examples/my_model.py"


@pytest.mark.parametrize("spec, extra", [("torchvision:resnet18", "torchvision"), ("timm:resnet18+weights", "timm"),
                                         ("hf:vit", "hf")])
def test_a_missing_package_is_one_line_naming_the_extra(spec, extra, monkeypatch):
    module = named.PACKAGES[spec.partition(":")[0]].module
    monkeypatch.setitem(sys.modules, module, None)  # absent, whatever this machine has installed
    with pytest.raises(InputError) as e:
        load_external(spec, ["x"])
    text = str(e.value)
    assert "\n" not in text and f"{module} is not installed" in text
    assert f"pip install 'goaldriven[{extra}]'" in text


def _package(tmp_path, monkeypatch, name: str, code: str):
    """A stand-in package ``name`` on sys.path, imported fresh."""
    (tmp_path / name).mkdir(exist_ok=True)
    (tmp_path / name / "__init__.py").write_text(textwrap.dedent(code))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, name, None)  # recorded, so that the stand-in is gone after the test
    monkeypatch.delitem(sys.modules, name)


def test_timm_without_torchvision_and_a_broken_install_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    _package(tmp_path, monkeypatch, "timm", "import torchvision\n")
    with pytest.raises(InputError, match=r"timm needs torchvision, which is not installed; install goaldriven's "
                                         r"timm extra: pip install 'goaldriven\[timm\]'"):
        load_external("timm:resnet18")
    _package(tmp_path, monkeypatch, "torchvision", "raise RuntimeError('operator torchvision::nms does not exist')\n")
    with pytest.raises(InputError, match=r"torchvision is installed but does not import \(RuntimeError: operator "
                                         r"torchvision::nms does not exist\); reinstall it to match torch"):
        load_external("torchvision:resnet18")


# A stand-in for the part of torchvision goaldriven calls (torchvision.models.get_model_builder,
# get_model_weights(...).DEFAULT.transforms(), list_models), with a download that fails offline.
FAKE_TORCHVISION = """
import types
from torch import nn

class _Transforms:
    crop_size, resize_size, mean, std = [176], [232], [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]

class _Weights:
    def __str__(self):
        return "TinyNet_Weights.IMAGENET1K_V1"
    def transforms(self):
        return _Transforms()

class _Enum:
    DEFAULT = _Weights()

def tinynet(weights=None):
    if weights is not None:
        raise OSError("<urlopen error [Errno -2] Name or service not known>")
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

def nothing(weights=None):
    return nn.Identity()

def get_model_builder(name):
    if name not in ("tinynet", "nothing"):
        raise ValueError(f"Unknown model {name}")
    return {"tinynet": tinynet, "nothing": nothing}[name]

def get_model_weights(name):
    if name != "tinynet":
        raise ValueError("no weights")
    return _Enum

def list_models():
    return ["tinynet", "nothing"]

models = types.SimpleNamespace(get_model_builder=get_model_builder, get_model_weights=get_model_weights,
                               list_models=list_models)
"""

FAKE_TIMM = """
import types
from torch import nn

def create_model(name, pretrained=False):
    if name not in ("tiny", "tiny.tag"):
        raise RuntimeError(f"Unknown model ({name})")
    if pretrained:
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    net.pretrained_cfg = {"input_size": (3, 160, 160), "mean": (0.1, 0.2, 0.3), "std": (0.4, 0.5, 0.6)}
    return net

def list_models(pattern="*"):
    return ["tiny", "tiny.tag"]

data = types.SimpleNamespace(resolve_model_data_config=lambda model: dict(model.pretrained_cfg))
"""


def test_torchvision_glue_against_a_stand_in(tmp_path, monkeypatch):
    """What goaldriven does with torchvision (not torchvision itself): the weights' transforms
    give the input size, mean and sd, also at random init; +weights downloads; errors in one line."""
    _package(tmp_path, monkeypatch, "torchvision", FAKE_TORCHVISION)
    model = load_external("torchvision:tinynet", ["0"])
    assert (model.input_size, model.preprocessing, model.mean, model.std) == (176, "model", (0.4, 0.5, 0.6),
                                                                              (0.2, 0.25, 0.3))
    again = load_external("torchvision:tinynet")  # seeded random init: the same weights every time
    assert torch.equal(model.module[0].weight, again.module[0].weight)
    assert load_external("torchvision:tinynet", input_size=64, preprocessing="unit").input_size == 64
    assert load_external("torchvision:nothing").input_size == 224  # no published weights: the convention
    with pytest.raises(InputError, match=r"downloading its weights failed \(OSError: <urlopen error.*\); without "
                                         r"a connection, download the weights where there is one and give "
                                         r"torchvision:tinynet --weights FILE"):
        load_external("torchvision:tinynet+weights")
    with pytest.raises(InputError, match=r"torchvision has no model 'resnet9'; it has 2, e.g. "
                                         r"\['nothing', 'tinynet'\]"):
        load_external("torchvision:resnet9")
    with pytest.raises(InputError, match="publishes no weights for 'nothing'"):
        load_external("torchvision:nothing+weights")
    torch.save(load_external("torchvision:tinynet").module.state_dict(), tmp_path / "w.pt")
    assert load_external("torchvision:tinynet", weights=tmp_path / "w.pt").source == "torchvision:tinynet"
    with pytest.raises(InputError, match=r"both the package's weights \(\+weights\) and --weights"):
        load_external("torchvision:tinynet+weights", weights=tmp_path / "w.pt")
    with pytest.raises(InputError, match=r"no module 'fc'.*it has \['0', '1', '2', '3'\]"):
        load_external("torchvision:tinynet", ["fc"])


def test_timm_glue_against_a_stand_in(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # the stand-in needs none
    _package(tmp_path, monkeypatch, "timm", FAKE_TIMM)
    model = load_external("timm:tiny.tag", ["0"])
    assert (model.input_size, model.mean, model.std, model.preprocessing) == (160, (0.1, 0.2, 0.3),
                                                                              (0.4, 0.5, 0.6), "model")
    with pytest.raises(InputError, match=r"timm has no model 'huge'"):
        load_external("timm:huge")
    with pytest.raises(InputError, match=r"timm:tiny\+weights: downloading its weights failed \(OSError: We "
                                         r"couldn't connect.*--weights FILE"):
        load_external("timm:tiny+weights")


def test_preprocessing_model_uses_the_models_mean_and_sd():
    x = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    got = preprocess(x, "model", (0.5, 0.5, 0.0), (0.5, 0.25, 1.0))
    assert torch.allclose(got[0, :, 0, 0], torch.tensor([1.0, 2.0, 1.0]))
    with pytest.raises(InputError, match="preprocessing 'model': no mean and sd of its own"):
        load_external(f"{REPO}/examples/my_model.py:build", preprocessing="model")


# ----------------------------------------------------------------------------- hf (transformers, installed)
def _transformers():
    """transformers is in the test extra: missing, these tests fail (never skip)."""
    try:
        import transformers  # noqa: F401
    except ImportError:
        pytest.fail("transformers is not installed; it is in goaldriven's test extra: pip install -e '.[test]'")


def _tiny_vit_folder(path):
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model("vit", image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=2, intermediate_size=64)
    torch.manual_seed(1)
    model = AutoModel.from_config(config)
    model.save_pretrained(path)
    return model


def test_hf_model_type_at_random_init_with_its_processors_preprocessing(tiny_sets):
    _transformers()
    model = load_external("hf:vit", ["layers.0", "layers.11"])
    # ViT's default configuration and image processor: 224 px, mean and sd 0.5; images as pixel_values
    assert (model.input_size, model.preprocessing, model.mean, model.std) == (224, "model", (0.5,) * 3, (0.5,) * 3)
    assert model.input_kwarg == "pixel_values" and "layers.11.mlp.fc2" in model.layer_names
    again = load_external("hf:vit")
    assert all(torch.equal(a, b) for a, b in zip(model.module.parameters(), again.module.parameters()))
    stimuli = load_stimulus_set(tiny_sets["test"]).isel(presentation=slice(0, 3))
    feats = extract(model, stimuli, layers=["layers.0", "layers.11"])
    assert feats["layers.11"].shape == (3, 197 * 768) and np.isfinite(feats["layers.11"]).all()
    with pytest.raises(InputError, match=r"model type of transformers, which has no weights"):
        load_external("hf:vit+weights")
    with pytest.raises(InputError) as e:  # ViT takes its configured size only: a one-line error
        extract(load_external("hf:vit", ["layers.0"], input_size=112), stimuli, layers=["layers.0"])
    assert re.search(r"hf:vit: the forward pass failed on a batch of shape \(\d+, 3, 112, 112\) \(ValueError: "
                     r"Input image size \(112\*112\) doesn't match model \(224\*224\)", str(e.value))
    assert "\n" not in str(e.value)


def test_hf_local_folder_random_init_and_weights_in_a_features_file(tmp_path, tiny_sets):
    _transformers()
    saved = _tiny_vit_folder(tmp_path / "tinyvit")
    trained = load_external(f"hf:{tmp_path}/tinyvit+weights", ["layers.1"])
    assert all(torch.equal(a, b) for a, b in zip(saved.parameters(), trained.module.parameters()))
    fresh = load_external(f"hf:{tmp_path}/tinyvit")  # the folder's config, seeded random init
    assert not torch.equal(fresh.module.layers[0].mlp.fc1.weight, saved.layers[0].mlp.fc1.weight)
    assert trained.input_size == 32 and trained.mean == (0.5,) * 3  # no processor saved: the type's default
    out = extract_to_netcdf(trained, load_stimulus_set(tiny_sets["test"]), tmp_path / "f.nc", model_id="tiny",
                            layers=["layers.0", "layers.1"], progress=False)
    feats = open_features(out)
    assert feats.attrs["layers"] == "layers.0,layers.1" and feats.attrs["shape_layers.1"] == "17,32"
    described = tmp_path / "d.json"
    assert cli.main(["external-model", "--model", f"hf:{tmp_path}/tinyvit+weights", "--layers", "layers.1",
                     "--name", "tiny", "--out", str(described)]) == 0
    config = json.loads(described.read_text())["config"]
    assert config["preprocessing"] == "model" and config["mean"] == [0.5] * 3 and config["input_size"] == 32


def test_hf_hub_id_offline_is_a_one_line_error(tmp_path):
    _transformers()
    env = {**env_for(REPO), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}  # offline, no cache
    result = subprocess.run([sys.executable, "-m", "goaldriven.cli", "external-model", "--model",
                             "hf:google/vit-base-patch16-224+weights", "--layers", "layers.0", "--name", "vit",
                             "--out", str(tmp_path / "d.json")], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    error = [line for line in result.stderr.splitlines() if line.startswith("goaldriven external-model: error:")]
    assert len(error) == 1 and "hf:google/vit-base-patch16-224+weights" in error[0]
    assert "not a model type of transformers" in error[0] and "save_pretrained" in error[0]
    assert not (tmp_path / "d.json").exists()


def test_the_config_schema_takes_named_models():
    import jsonschema
    import yaml

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    entry = {"$defs": schema["$defs"], **schema["properties"]["models"]["properties"]["external"]["items"]}
    for factory in ("torchvision:resnet18", "timm:convnext_tiny+weights", "hf:google/vit-base-patch16-224+weights",
                    "examples/my_model.py:build"):
        jsonschema.validate({"name": "net", "factory": factory, "layers": ["a"]}, entry)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "net", "factory": "hf:vit+imagenet", "layers": ["a"]}, entry)
    # The rules pass --preprocessing for a named model only when the entry sets it (else the package's own).
    assert "NAMED_MODELS" in (REPO / "workflow/rules/common.smk").read_text()
