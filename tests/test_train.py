import json

import pytest
import torch

from goaldriven import train as train_mod
from goaldriven.io import InputError
from goaldriven.models import ARCHITECTURES, build_model
from goaldriven.stimuli import generate_stimulus_set, save_stimulus_set
from goaldriven.train import TrainConfig, load_weights, train


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_names_its_layers_and_takes_any_input_size(arch):
    model = build_model(arch, n_out=8, width=0.25).eval()
    for size in (32, 64):
        feats = model.features(torch.zeros(2, 3, size, size))
        assert list(feats) == model.layer_names and len(feats) >= 4
        assert model(torch.zeros(2, 3, size, size)).shape == (2, 8)


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown architecture 'vgg99'"):
        build_model("vgg99", 8)


def _cfg(**kw):
    return TrainConfig(**{"arch": "hmo", "seed": 3, "epochs": 2, "width": 0.25, "batch_size": 16, **kw})


def test_training_is_deterministic_and_learns(tiny_sets, tmp_path):
    a = train(_cfg(epochs=4), tiny_sets["train"], tmp_path / "a", test_dataset=tiny_sets["test"], progress=False)
    train(_cfg(epochs=4), tiny_sets["train"], tmp_path / "b", test_dataset=tiny_sets["test"], progress=False)
    assert (tmp_path / "a/weights.safetensors").read_bytes() == (tmp_path / "b/weights.safetensors").read_bytes()
    assert a["train_accuracy"] > 0.3  # 8 classes: chance is 0.125
    assert len(a["history"]) == 4 and len(list((tmp_path / "a/checkpoints").glob("epoch_*.pt"))) == 4
    model, meta = load_weights(tmp_path / "a/weights.safetensors")
    assert meta["arch"] == "hmo" and meta["task"] == "supervised"
    assert json.loads((tmp_path / "a/metrics.json").read_text())["test_accuracy"] == a["test_accuracy"]


def test_interrupted_run_resumes_to_identical_weights(tiny_sets, tmp_path, monkeypatch):
    train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "full", progress=False)
    real_save = train_mod._save_checkpoint

    def crash_after_second(path, state):
        real_save(path, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(train_mod, "_save_checkpoint", crash_after_second)
    with pytest.raises(KeyboardInterrupt):
        train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "resumed", progress=False)
    assert not (tmp_path / "resumed/weights.safetensors").exists()
    monkeypatch.setattr(train_mod, "_save_checkpoint", real_save)
    m = train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "resumed", progress=False)
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3]
    assert (tmp_path / "full/weights.safetensors").read_bytes() == (tmp_path / "resumed/weights.safetensors").read_bytes()


def test_corrupt_or_foreign_checkpoints_are_reported_not_loaded(tiny_sets, tmp_path, caplog):
    train(_cfg(epochs=2), tiny_sets["train"], tmp_path / "run", progress=False)
    ckpt = tmp_path / "run/checkpoints/epoch_002.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated
    with caplog.at_level("WARNING"):
        state = train_mod._latest_checkpoint(tmp_path / "run/checkpoints",
                                             torch.load(tmp_path / "run/checkpoints/epoch_001.pt")["fingerprint"])
    assert state["epoch"] == 1
    assert "epoch_002.pt is corrupt or truncated" in caplog.text
    assert train_mod._latest_checkpoint(tmp_path / "run/checkpoints", "another-run") is None


def test_untrained_control_saves_the_initialisation(tiny_sets, tmp_path):
    m = train(_cfg(task="untrained"), tiny_sets["train"], tmp_path / "u", test_dataset=tiny_sets["test"], progress=False)
    assert m["history"] == [] and 0 <= m["test_accuracy"] <= 1
    assert load_weights(tmp_path / "u/weights.safetensors")[1]["task"] == "untrained"


def test_one_class_dataset_fails_fast(tmp_path):
    da = generate_stimulus_set(seed=0, split="x", images_per_variation={0: 2}, size=32,
                               objects_per_category=1, categories=("cars",))
    save_stimulus_set(da, tmp_path / "one.nc")
    with pytest.raises(InputError, match="one.nc: needs at least two categories"):
        train(_cfg(), tmp_path / "one.nc", tmp_path / "out", progress=False)
    assert not (tmp_path / "out/weights.safetensors").exists()
