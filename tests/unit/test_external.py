"""Bring your own model: any nn.Module by factory, layers by forward hooks, scored like the zoo."""

import json
import subprocess
import sys

import numpy as np
import pytest

from goaldriven.core.options import ScoringSpec
import torch
import xarray as xr

from goaldriven import cli
from goaldriven.api import benchmark_files, score
from goaldriven.models.external import load_external, load_factory, preprocess
from goaldriven.models.features import extract_assembly, extract_to_netcdf, open_features
from goaldriven.data.importers import import_kalfas_it
from goaldriven.core.io import InputError
from goaldriven.data.stimulus_sets import load_stimulus_set
from workflow_helpers import REPO, SHARED, env_for

FACTORY = f"{REPO}/examples/my_model.py:build"
KALFAS = SHARED / "kalfas2017_it"


@pytest.fixture(scope="module")
def kalfas(tmp_path_factory):
    assert KALFAS.is_dir(), f"{KALFAS} missing (see data/README.md)"
    return import_kalfas_it(KALFAS, tmp_path_factory.mktemp("kalfas") / "kalfas")


def test_factory_from_a_file_and_from_a_module():
    assert isinstance(load_factory(FACTORY)(), torch.nn.Module)
    assert load_factory("torch.nn:Identity")() is not None


def test_bad_factories_are_one_line_errors_naming_file_and_field(tmp_path):
    with pytest.raises(InputError, match=r"nope\.py: factory file not found"):
        load_external(f"{tmp_path}/nope.py:build")
    with pytest.raises(InputError, match=r"my_model\.py: no function or nn.Module 'missing'"):
        load_external(f"{REPO}/examples/my_model.py:missing")
    (tmp_path / "notamodel.py").write_text("def build():\n    return {'conv1': 1}\n")
    with pytest.raises(InputError, match=r"notamodel\.py:build: the factory returned dict, not a torch\.nn\.Module"):
        load_external(f"{tmp_path}/notamodel.py:build")
    with pytest.raises(InputError, match=r"my_model\.py:build: layers: no module 'conv9' in the model; "
                                         r"it has \['conv1', 'conv1\.0'.*'fc'\]"):
        load_external(FACTORY, ["conv1", "conv9"])
    with pytest.raises(InputError, match="cannot import module"):
        load_external("no_such_package.sub:build")
    with pytest.raises(InputError) as e:
        load_external(FACTORY, ["nope"])
    assert "\n" not in str(e.value)


def test_weights_load_from_safetensors_and_state_dicts_only(tmp_path):
    from safetensors.torch import save_file

    trained = load_factory(FACTORY)()
    with torch.no_grad():
        trained.fc.bias.fill_(3.0)
    save_file(trained.state_dict(), tmp_path / "w.safetensors")
    torch.save({"state_dict": trained.state_dict()}, tmp_path / "w.pt")
    for path in ("w.safetensors", "w.pt"):
        model = load_external(FACTORY, ["fc"], weights=tmp_path / path)
        assert torch.all(model.module.fc.bias == 3.0)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "pickled.pt")  # a pickled object, not a state dict
    with pytest.raises(InputError, match=r"pickled\.pt: not a readable weights file"):
        load_external(FACTORY, ["fc"], weights=tmp_path / "pickled.pt")
    torch.save({"x": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match=r"other\.pt: does not fit the model"):
        load_external(FACTORY, ["fc"], weights=tmp_path / "other.pt")


def test_preprocessing():
    x = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    assert torch.allclose(preprocess(x, "unit"), torch.ones(1, 3, 2, 2))
    assert torch.allclose(preprocess(x, "none"), torch.full((1, 3, 2, 2), 255.0))
    assert torch.allclose(preprocess(x, "imagenet")[0, 0], torch.full((2, 2), (1 - 0.485) / 0.229))
    with pytest.raises(InputError, match="preprocessing"):
        load_external(FACTORY, preprocessing="zscore")


def test_hooked_features_are_the_modules_outputs_in_a_zoo_shaped_file(tmp_path, tiny_sets):
    stimuli = load_stimulus_set(tiny_sets["test"])
    model = load_external(FACTORY, ["conv1", "conv2.0", "fc"], input_size=40, preprocessing="unit")
    out = extract_to_netcdf(model, stimuli, tmp_path / "f.nc", model_id="mine", layers=["conv1", "conv2.0", "fc"],
                            progress=False)
    feats = open_features(out)
    assert feats.dims == ("presentation", "neuroid")
    assert feats.attrs["layers"] == "conv1,conv2.0,fc" and feats.attrs["model"] == "mine"
    assert feats.attrs["input_size"] == 40 and feats.attrs["shape_fc"] == "10"
    assert list(feats["stimulus_id"].values) == list(stimuli["stimulus_id"].values)
    # the fc columns are the module's own outputs (10 wide: not reduced)
    net = load_factory(FACTORY)().eval()
    x = torch.nn.functional.interpolate(torch.from_numpy(stimuli.values).permute(0, 3, 1, 2).float() / 255,
                                        size=(40, 40), mode="bilinear", align_corners=False, antialias=True)
    with torch.no_grad():
        expected = net(x).numpy()
    np.testing.assert_allclose(feats.sel(neuroid=feats["layer"] == "fc").values, expected, rtol=1e-4, atol=1e-5)
    same = extract_assembly(model, stimuli, model_id="mine", layers=["conv1", "conv2.0", "fc"])
    np.testing.assert_allclose(same.values, feats.values, rtol=1e-5, atol=1e-6)


def test_features_command_with_an_external_model_logs_progress(tmp_path, tiny_sets):
    out = tmp_path / "f.nc"
    result = subprocess.run([sys.executable, "-m", "goaldriven.cli", "features", "--model", FACTORY,
                             "--layers", "conv1,fc", "--stimuli", str(tiny_sets["test"]), "--model-id", "mine",
                             "--batch-size", "8", "--out", str(out)],
                            capture_output=True, text=True, env=env_for(REPO))
    assert result.returncode == 0, result.stderr
    assert open_features(out).attrs["layers"] == "conv1,fc"
    assert "features (" in result.stderr and "100%" in result.stderr  # progress lines in the job's log


@pytest.mark.real_data
def test_score_model_prints_per_layer_scores_of_a_kalfas_assembly(tmp_path, kalfas, capsys):
    out = tmp_path / "scored"
    assert cli.main(["score-model", "--model", FACTORY, "--layers", "conv1,conv2,fc", "--benchmark", str(kalfas),
                     "--out", str(out), "--splits", "3", "--input-size", "48"]) == 0
    printed = capsys.readouterr().out
    assert all(layer in printed for layer in ("conv1", "conv2", "fc")) and "IT" in printed
    table = __import__("pandas").read_csv(out / "scores.csv")
    assert list(table["layer"]) == ["conv1", "conv2", "fc"] and (table["area"] == "IT").all()
    assert table["ev"].notna().all() and table["r"].between(-1, 1).all()
    assert xr.open_dataset(out / "scores.nc").attrs["benchmark"] == "kalfas"


@pytest.mark.real_data
def test_score_model_errors(tmp_path, kalfas, capsys):
    args = ["--benchmark", str(kalfas), "--out", str(tmp_path / "o")]
    assert cli.main(["score-model", "--model", FACTORY, "--layers", "conv9", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "layers: no module 'conv9'" in err and "'fc'" in err
    assert cli.main(["score-model", "--model", FACTORY, "--layers", "fc", "--benchmark", "nope",
                     "--out", str(tmp_path / "o"), "--configfile", str(REPO / "config/smoke.yaml")]) == 2
    assert "not a benchmark folder nor a benchmark of the config" in capsys.readouterr().err


@pytest.mark.real_data
def test_api_score_takes_a_module_and_a_config_benchmark_name(tmp_path, kalfas):
    config = {"results": str(kalfas.parent.parent), "neural": {kalfas.name: {"importer": "kalfas-it"}}}
    (kalfas.parent.parent / "neural").mkdir(exist_ok=True)
    link = kalfas.parent.parent / "neural" / kalfas.name
    if not link.exists():
        link.symlink_to(kalfas)
    assert benchmark_files(kalfas.name, config).recordings == link / "assembly.nc"
    table = score(load_factory(FACTORY)(), "conv2,fc", kalfas.name, config=config, scoring=ScoringSpec(splits=3), input_size=48)
    assert set(table.columns) >= {"model", "benchmark", "layer", "area", "ev", "r", "rsa"}
    assert list(table["layer"]) == ["conv2", "fc"]


@pytest.mark.real_data
def test_example_script_runs(tmp_path, kalfas):
    result = subprocess.run([sys.executable, "examples/score_own_model.py", str(kalfas), str(tmp_path / "o")],
                            cwd=REPO, capture_output=True, text=True, env=env_for(REPO), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "best layer per area" in result.stdout and (tmp_path / "o/scores.csv").is_file()


def test_a_module_object_is_taken_as_well_as_a_factory(tmp_path):
    """`--model seqnet.py:model` where `model` is an nn.Sequential object (as goaldriven.api takes
    one): described and checked like a factory's model, not called as a function."""
    (tmp_path / "seqnet.py").write_text(
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
        "model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(16, 5))\n")
    out = tmp_path / "seq.json"
    assert cli.main(["external-model", "--model", f"{tmp_path / 'seqnet.py'}:model", "--layers", "0,4",
                     "--name", "seq", "--image-size", "32", "--out", str(out)]) == 0
    described = json.loads(out.read_text())
    assert described["config"]["layers"] == ["0", "4"] and described["n_parameters"] == 4 * 3 * 9 + 4 + 16 * 5 + 5
