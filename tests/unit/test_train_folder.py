"""A training owns its folder and its checkpoints can be trusted (issue #25, items 2 and 3): a
folder of the user's own files is refused, another run's results stay until the new ones exist,
and a checkpoint with one flipped byte is named and skipped, not loaded as another model."""

import json
import logging

import pytest
from safetensors.torch import save_file
import torch

from goaldriven.core.io import OUTPUT_MARKER
from goaldriven.models import train as train_mod
from goaldriven.models.train import TrainConfig, train
from workflow_helpers import refused, tree_hash


def _cfg(**kw):
    return TrainConfig(**{"arch": "hmo", "seed": 3, "epochs": 3, "width": 0.25, "batch_size": 16, **kw})


def _train(cfg, dataset, out):
    return train(cfg, dataset, out, progress=False, device="cpu")


def _argv(dataset, out, epochs=1):
    return ["train", "--arch", "hmo", "--seed", "0", "--epochs", str(epochs), "--width", "0.25",
            "--batch-size", "16", "--device", "cpu", "--dataset", str(dataset), "--out", str(out)]


def test_a_folder_of_the_users_own_weights_and_metrics_is_refused(tiny_sets, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    save_file({"w": torch.ones(3)}, str(mine / "weights.safetensors"))  # a real file, not goaldriven's
    (mine / "metrics.json").write_text(json.dumps({"accuracy": 0.93}))
    before = tree_hash(tmp_path)
    refused(_argv(tiny_sets["train"], mine), capsys, mine, "did not write")
    assert tree_hash(tmp_path) == before
    assert sorted(p.name for p in mine.iterdir()) == ["metrics.json", "weights.safetensors"]  # no lock, no checkpoints


def test_a_folder_written_by_another_command_is_refused(tiny_sets, tmp_path, capsys):
    other = tmp_path / "imported"
    other.mkdir()
    (other / OUTPUT_MARKER).write_text("import assembly\n")
    (other / "assembly.nc").write_bytes(b"data")
    before = tree_hash(tmp_path)
    refused(_argv(tiny_sets["train"], other), capsys, other, "goaldriven import assembly")
    assert tree_hash(tmp_path) == before


def test_its_own_folder_is_marked_and_accepted_again_and_own_checkpoints_resume(tiny_sets, tmp_path, caplog):
    out = tmp_path / "model"
    _train(_cfg(epochs=2), tiny_sets["train"], out)
    assert (out / OUTPUT_MARKER).read_text() == "train\n"
    (out / "notes.txt").write_text("the user's, in train's folder\n")
    _train(_cfg(epochs=2, lr=0.02), tiny_sets["train"], out)  # another run into its own folder: accepted
    assert (out / "notes.txt").read_text() == "the user's, in train's folder\n"
    # A folder left by a train that predates the marker: only its own checkpoints (and lock).
    legacy = tmp_path / "legacy"
    _train(_cfg(epochs=2), tiny_sets["train"], legacy)
    for name in ("weights.safetensors", "metrics.json", OUTPUT_MARKER):
        (legacy / name).unlink()
    with caplog.at_level(logging.INFO):
        _train(_cfg(epochs=2), tiny_sets["train"], legacy)
    assert "resuming" in caplog.text and "from epoch 2" in caplog.text


def test_another_runs_results_stay_until_the_new_ones_exist(tiny_sets, tmp_path, monkeypatch):
    out = tmp_path / "model"
    _train(_cfg(epochs=1), tiny_sets["train"], out)
    before = {n: (out / n).read_bytes() for n in ("weights.safetensors", "metrics.json")}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed after training, before the results were written")

    monkeypatch.setattr(train_mod, "_final_scores", crash)
    with pytest.raises(KeyboardInterrupt):
        _train(_cfg(epochs=1, lr=0.02), tiny_sets["train"], out)  # another run (another fingerprint)
    assert {n: (out / n).read_bytes() for n in before} == before  # the old results, whole


def test_a_flipped_byte_in_the_newest_checkpoint_is_named_and_skipped(tiny_sets, tmp_path, caplog):
    _train(_cfg(), tiny_sets["train"], tmp_path / "full")
    _train(_cfg(), tiny_sets["train"], tmp_path / "run")
    newest = tmp_path / "run/checkpoints/epoch_003.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    with caplog.at_level(logging.INFO):
        _train(_cfg(), tiny_sets["train"], tmp_path / "run")  # the same command again
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(newest) in w and "corrupt" in w for w in warnings), warnings
    assert "from epoch 2" in caplog.text
    assert (tmp_path / "run/weights.safetensors").read_bytes() == (tmp_path / "full/weights.safetensors").read_bytes()
