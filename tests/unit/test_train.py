import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from goaldriven.models import train as train_mod
from goaldriven.cli import main as cli_main
from goaldriven.core.io import InputError
from goaldriven.data.stimulus_sets import load_stimulus_set, read_image_folder, save_stimulus_set
from goaldriven.data.synthetic import generate_stimulus_set
from goaldriven.models.train import TrainConfig, load_weights, resolve_device, train

from workflow_helpers import SHARED



def _cfg(**kw):
    return TrainConfig(**{"arch": "hmo", "seed": 3, "epochs": 2, "width": 0.25, "batch_size": 16, **kw})


def _train(cfg, dataset, out, **kw):
    """Train on the CPU, where byte-identical results are promised."""
    return train(cfg, dataset, out, progress=False, device="cpu", **kw)


def test_training_is_deterministic_and_learns(tiny_sets, tmp_path):
    a = _train(_cfg(epochs=4), tiny_sets["train"], tmp_path / "a", test_dataset=tiny_sets["test"])
    _train(_cfg(epochs=4), tiny_sets["train"], tmp_path / "b", test_dataset=tiny_sets["test"])
    assert (tmp_path / "a/weights.safetensors").read_bytes() == (tmp_path / "b/weights.safetensors").read_bytes()
    assert a["train_accuracy"] > 0.3  # 8 classes: chance is 0.125
    assert len(a["history"]) == 4 and len(list((tmp_path / "a/checkpoints").glob("epoch_*.pt"))) == 4
    model, meta = load_weights(tmp_path / "a/weights.safetensors")
    assert meta["arch"] == "hmo" and meta["task"] == "supervised" and meta["input_size"] == "32"
    assert json.loads((tmp_path / "a/metrics.json").read_text())["test_accuracy"] == a["test_accuracy"]


@pytest.mark.parametrize("arch", ["alexnet", "vgg", "resnet18", "resnet", "cornet", "convmixer", "brainnet"])
def test_every_architecture_trains_to_byte_identical_weights(arch, tiny_sets, tmp_path):
    cfg = _cfg(arch=arch, epochs=1, width=0.125)
    m = _train(cfg, tiny_sets["train"], tmp_path / "a")
    _train(cfg, tiny_sets["train"], tmp_path / "b")
    assert (tmp_path / "a/weights.safetensors").read_bytes() == (tmp_path / "b/weights.safetensors").read_bytes()
    assert np.isfinite(m["history"][0]["train_loss"])
    model, meta = load_weights(tmp_path / "a/weights.safetensors")
    assert meta["arch"] == arch and model.layer_names == train_mod.build_model(arch, 8, 0.125).layer_names


def _killed_after(epoch, cfg, dataset, out, monkeypatch):
    """Train ``cfg`` into ``out`` but stop it (as a kill would) once epoch ``epoch`` is saved."""
    real_save = train_mod._save_checkpoint

    def crash(path, state):
        real_save(path, state)
        if state["epoch"] == epoch:
            raise KeyboardInterrupt("simulated kill")

    monkeypatch.setattr(train_mod, "_save_checkpoint", crash)
    with pytest.raises(KeyboardInterrupt):
        _train(cfg, dataset, out)
    monkeypatch.setattr(train_mod, "_save_checkpoint", real_save)


def test_interrupted_run_resumes_to_identical_weights(tiny_sets, tmp_path, monkeypatch):
    _train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "full")
    _killed_after(2, _cfg(epochs=3), tiny_sets["train"], tmp_path / "resumed", monkeypatch)
    assert not (tmp_path / "resumed/weights.safetensors").exists()
    m = _train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "resumed")
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3]
    assert (tmp_path / "full/weights.safetensors").read_bytes() == (tmp_path / "resumed/weights.safetensors").read_bytes()


def _train_command(tiny_sets, out, epochs):
    return [sys.executable, "-m", "goaldriven.cli", "--threads", "1", "train", "--arch", "hmo",
            "--seed", "5", "--epochs", str(epochs), "--width", "0.25", "--batch-size", "16",
            "--device", "cpu", "--keep-epochs", f"1,{epochs}", "--dataset", str(tiny_sets["train"]),
            "--out", str(out)]


def test_kill_9_mid_run_then_rerun_gives_the_uninterrupted_bytes(tiny_sets, tmp_path):
    epochs = 8
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_train_command(tiny_sets, tmp_path / "full", epochs), env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen(_train_command(tiny_sets, tmp_path / "killed", epochs), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "killed/checkpoints/epoch_002.pt").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before its 2nd checkpoint"
        time.sleep(0.005)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.kill()  # SIGKILL: no clean-up runs
    assert proc.wait() == -9
    assert not (tmp_path / "killed/weights.safetensors").exists()

    rerun = subprocess.run(_train_command(tiny_sets, tmp_path / "killed", epochs), env=env, check=True,
                           capture_output=True, text=True)
    resumed_from = int(rerun.stderr.split("from epoch ")[1].split()[0])
    assert 2 <= resumed_from < epochs
    for name in ("weights.safetensors", "epochs/epoch_001.safetensors", f"epochs/epoch_{epochs:03d}.safetensors"):
        assert (tmp_path / "full" / name).read_bytes() == (tmp_path / "killed" / name).read_bytes(), name


def test_corrupt_or_foreign_checkpoints_are_reported_not_loaded(tiny_sets, tmp_path, caplog):
    _train(_cfg(epochs=2), tiny_sets["train"], tmp_path / "run")
    ckpt = tmp_path / "run/checkpoints/epoch_002.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated
    with caplog.at_level("WARNING"):
        state = train_mod._latest_checkpoint(tmp_path / "run/checkpoints",
                                             torch.load(tmp_path / "run/checkpoints/epoch_001.pt")["fingerprint"])
    assert state["epoch"] == 1
    assert "epoch_002.pt is corrupt or truncated" in caplog.text
    assert train_mod._latest_checkpoint(tmp_path / "run/checkpoints", "another-run") is None


def test_truncated_newest_checkpoint_is_skipped_and_training_redoes_that_epoch(tiny_sets, tmp_path, caplog):
    _train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "full")
    _train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "run")
    (tmp_path / "run/weights.safetensors").unlink()
    ckpt = tmp_path / "run/checkpoints/epoch_003.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: len(ckpt.read_bytes()) // 2])
    with caplog.at_level("INFO"):
        _train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "run")
    assert "epoch_003.pt is corrupt or truncated" in caplog.text and "from epoch 2" in caplog.text
    assert (tmp_path / "full/weights.safetensors").read_bytes() == (tmp_path / "run/weights.safetensors").read_bytes()


def test_kept_epochs_are_weights_files_with_their_metrics(tiny_sets, tmp_path):
    m = _train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "run", test_dataset=tiny_sets["test"],
               keep_epochs=[1, 3])
    kept = sorted(p.name for p in (tmp_path / "run/epochs").iterdir())
    assert kept == ["epoch_001.safetensors", "epoch_003.safetensors"]
    for epoch in (1, 3):
        model, meta = load_weights(tmp_path / f"run/epochs/epoch_{epoch:03d}.safetensors")
        expected = m["history"][epoch - 1]
        assert meta["epoch"] == str(epoch) and json.loads(meta["metrics"]) == expected
        assert set(expected) == {"epoch", "train_loss", "train_accuracy", "test_accuracy"}
    final, first = (load_file(tmp_path / f"run/{name}") for name in ("weights.safetensors", "epochs/epoch_001.safetensors"))
    assert all(torch.equal(final[k], v) for k, v in load_file(tmp_path / "run/epochs/epoch_003.safetensors").items())
    assert not torch.equal(final["stages.layer1.0.weight"], first["stages.layer1.0.weight"])


def test_kept_epochs_are_rebuilt_when_outputs_were_deleted(tiny_sets, tmp_path):
    # dvc repro deletes a stage's outputs before running it; the checkpoints stay.
    _train(_cfg(epochs=2), tiny_sets["train"], tmp_path / "run", keep_epochs=[1])
    before = (tmp_path / "run/epochs/epoch_001.safetensors").read_bytes()
    (tmp_path / "run/epochs/epoch_001.safetensors").unlink()
    (tmp_path / "run/weights.safetensors").unlink()
    _train(_cfg(epochs=2), tiny_sets["train"], tmp_path / "run", keep_epochs=[1])
    assert (tmp_path / "run/epochs/epoch_001.safetensors").read_bytes() == before


def test_autoencoder_reconstruction_improves_and_its_encoder_gives_features(tiny_sets, tmp_path):
    m = _train(_cfg(task="autoencoder", epochs=4), tiny_sets["train"], tmp_path / "ae",
               test_dataset=tiny_sets["test"], keep_epochs=[2])
    losses = [h["reconstruction_loss"] for h in m["history"]]
    assert losses[-1] < 0.7 * losses[0] and all(np.isfinite(losses))
    assert m["history"][-1]["test_reconstruction_loss"] < m["history"][0]["test_reconstruction_loss"]
    model, meta = load_weights(tmp_path / "ae/weights.safetensors")
    assert meta["task"] == "autoencoder" and not any(k.startswith("decoder") for k in load_file(tmp_path / "ae/weights.safetensors"))
    untrained = _train(_cfg(task="untrained"), tiny_sets["train"], tmp_path / "u")
    assert untrained["history"] == []
    # The encoder learnt; the layers above the decoder's input kept their initialisation.
    ae, init = (load_file(tmp_path / f"{d}/weights.safetensors") for d in ("ae", "u"))
    assert not torch.equal(ae["stages.layer1.0.weight"], init["stages.layer1.0.weight"])
    assert torch.equal(ae["stages.layer4.0.0.weight"], init["stages.layer4.0.0.weight"])
    x, _, _ = train_mod.load_labelled_images(tiny_sets["test"])
    with torch.no_grad():
        acts = model.features(train_mod.normalise(x))
    assert list(acts) == model.layer_names and all(torch.isfinite(a).all() and a.std() > 0 for a in acts.values())
    assert load_weights(tmp_path / "ae/epochs/epoch_002.safetensors")[1]["task"] == "autoencoder"


def test_pose_regression_learns_position_and_size(tiny_sets, tmp_path):
    m = _train(_cfg(task="pose", epochs=6), tiny_sets["train"], tmp_path / "pose", test_dataset=tiny_sets["test"])
    assert m["pose_targets"]["targets"] == ["ty", "tz", "s"] and m["test_accuracy"] is None
    losses = [h["train_loss"] for h in m["history"]]
    assert losses[-1] < 0.7 * losses[0]  # standardised targets: predicting the mean scores 1.0
    assert m["train_r2"] > 0.3 and np.isfinite(m["test_r2"])
    model, meta = load_weights(tmp_path / "pose/weights.safetensors")
    assert meta["task"] == "pose" and meta["n_out"] == "3" and model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_pose_needs_varying_pose_coordinates(tiny_sets, tmp_path):
    da = load_stimulus_set(tiny_sets["train"])
    save_stimulus_set(da.drop_vars("tz"), tmp_path / "no_tz.nc")
    with pytest.raises(InputError, match=r"no_tz.nc: task 'pose' needs the coordinates \['ty', 'tz', 's'\]; missing \['tz'\]"):
        _train(_cfg(task="pose"), tmp_path / "no_tz.nc", tmp_path / "out")
    save_stimulus_set(da.assign_coords(s=("presentation", np.ones(da.sizes["presentation"]))), tmp_path / "flat.nc")
    with pytest.raises(InputError, match=r"flat.nc: pose targets \['s'\] do not vary"):
        _train(_cfg(task="pose"), tmp_path / "flat.nc", tmp_path / "out")


@pytest.mark.real_data
def test_trains_on_a_real_image_folder(tmp_path):
    """CIFAR-10 images (a few per class) as a root/<class>/*.png folder, as a user would pass one."""
    from PIL import Image

    cifar = read_image_folder(SHARED / "cifar10" / "cifar10-images.tar.gz", subdir="train", per_class=6)
    for pixels, cls, stem in zip(cifar.values, cifar["category_name"].values, cifar["object_name"].values):
        (tmp_path / "cifar" / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(tmp_path / "cifar" / cls / f"{stem}.png")
    m = _train(_cfg(arch="vgg", epochs=1, width=0.125), tmp_path / "cifar", tmp_path / "out")
    assert m["categories"][:2] == ["airplane", "automobile"] and m["n_train"] == 60
    model, meta = load_weights(tmp_path / "out/weights.safetensors")
    assert meta["input_size"] == "32" and model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_untrained_control_saves_the_initialisation(tiny_sets, tmp_path):
    m = _train(_cfg(task="untrained"), tiny_sets["train"], tmp_path / "u", test_dataset=tiny_sets["test"])
    assert m["history"] == [] and 0 <= m["test_accuracy"] <= 1
    assert load_weights(tmp_path / "u/weights.safetensors")[1]["task"] == "untrained"


def test_one_class_dataset_fails_fast(tmp_path):
    da = generate_stimulus_set(seed=0, split="x", images_per_variation={0: 2}, size=32,
                               objects_per_category=1, categories=("cars",))
    save_stimulus_set(da, tmp_path / "one.nc")
    with pytest.raises(InputError, match="one.nc: needs at least two categories"):
        _train(_cfg(), tmp_path / "one.nc", tmp_path / "out")
    assert not (tmp_path / "out/weights.safetensors").exists()


def test_empty_and_too_small_datasets_fail_fast(tiny_sets, tmp_path):
    da = load_stimulus_set(tiny_sets["train"])
    empty = da.isel(presentation=[])
    for var in (empty, *empty.coords.values()):
        var.encoding = {}  # netCDF cannot chunk a zero-length dimension as the source file did
    save_stimulus_set(empty, tmp_path / "empty.nc")
    with pytest.raises(InputError, match="empty.nc: the stimulus set is empty"):
        _train(_cfg(), tmp_path / "empty.nc", tmp_path / "out")
    save_stimulus_set(da.isel(y=slice(0, 16), x=slice(0, 16)), tmp_path / "small.nc")
    with pytest.raises(InputError, match="small.nc: images are 16x16 pixels; the networks need at least 32"):
        _train(_cfg(), tmp_path / "small.nc", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_requests_fail_before_reading_data(tmp_path):
    missing = tmp_path / "no-such-data.nc"
    with pytest.raises(ValueError, match=r"unknown architecture 'vgg99'; choose from \["):
        _train(_cfg(arch="vgg99"), missing, tmp_path / "out")
    with pytest.raises(ValueError, match=r"unknown task 'pose2'; choose from \('supervised', 'untrained', 'autoencoder', 'pose'\)"):
        _train(_cfg(task="pose2"), missing, tmp_path / "out")
    with pytest.raises(ValueError, match=r"cannot keep epochs \[5\]: task 'supervised' trains epochs 1..2"):
        _train(_cfg(), missing, tmp_path / "out", keep_epochs=[1, 5])
    with pytest.raises(ValueError, match=r"cannot keep epochs \[1\]: task 'untrained' trains no epochs"):
        _train(_cfg(task="untrained"), missing, tmp_path / "out", keep_epochs=[1])
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        train(_cfg(), missing, tmp_path / "out", device="tpu")


def test_command_line_reports_bad_input_with_exit_status_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # refused by the parser, which lists the tasks
        cli_main(["train", "--arch", "hmo", "--task", "pose2", "--seed", "0", "--epochs", "1",
                  "--dataset", str(tmp_path / "x.nc"), "--out", str(tmp_path / "out")])
    assert stop.value.code == 2 and "argument --task: invalid choice: 'pose2'" in capsys.readouterr().err
    status = cli_main(["train", "--arch", "hmo", "--seed", "0", "--epochs", "1",
                       "--dataset", str(tmp_path / "x.nc"), "--out", str(tmp_path / "out")])
    assert status == 2 and "x.nc" in capsys.readouterr().err  # a missing data set, named
    with pytest.raises(SystemExit):
        cli_main(["train", "--arch", "hmo", "--seed", "0", "--epochs", "1", "--keep-epochs", "1,two",
                  "--dataset", "x.nc", "--out", str(tmp_path / "out")])
    assert "expected EPOCH[,EPOCH...], got '1,two'" in capsys.readouterr().err


def test_device_auto_follows_cuda_availability(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(ValueError, match="device 'cuda' requested but torch sees no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"


def test_batches_are_normalised_channels_last_and_follow_the_order(tiny_sets):
    x, y, _ = train_mod.load_labelled_images(tiny_sets["train"])
    images = train_mod._Images(x, y, torch.device("cpu"))
    order = images.order(torch.Generator().manual_seed(0))
    assert sorted(order.tolist()) == list(range(len(x)))
    xb, yb = images.batch(order[:5])
    assert xb.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(xb, train_mod.normalise(x[order[:5]])) and torch.equal(yb, y[order[:5]])


def test_augmentation_crops_the_reflect_padded_image_and_flips_per_image():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8)
    aug = train_mod._Augment(pad=2, seed=0)
    out = aug(x)
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(x.float(), (2, 2, 2, 2), mode="reflect").to(torch.uint8)
    for n in range(2):  # every output image is one 8x8 window of its padded image, maybe mirrored
        windows = [padded[n, :, i:i + 8, j:j + 8] for i in range(5) for j in range(5)]
        assert any(torch.equal(out[n], w) or torch.equal(out[n], w.flip(-1)) for w in windows)
    # Drawn per image from the augmenter's own generator: same seed, same crops; not all alike.
    assert torch.equal(train_mod._Augment(pad=2, seed=0)(x), out)
    many = train_mod._Augment(pad=2, seed=1)(x.repeat(16, 1, 1, 1))
    assert len({tuple(m.flatten().tolist()) for m in many}) > 4


def test_recipe_with_augmentation_and_label_smoothing_resumes_exactly(tiny_sets, tmp_path, monkeypatch):
    cfg = _cfg(epochs=3, augment_pad=4, label_smoothing=0.1)
    _train(cfg, tiny_sets["train"], tmp_path / "full")
    plain = _train(_cfg(epochs=3), tiny_sets["train"], tmp_path / "plain")
    _killed_after(1, cfg, tiny_sets["train"], tmp_path / "resumed", monkeypatch)
    m = _train(cfg, tiny_sets["train"], tmp_path / "resumed")
    assert (tmp_path / "full/weights.safetensors").read_bytes() == (tmp_path / "resumed/weights.safetensors").read_bytes()
    # The recipe is part of the run: other weights than the plain loop, recorded in the metrics.
    assert m["history"][0]["train_loss"] != plain["history"][0]["train_loss"]
    assert m["config"]["augment_pad"] == 4 and m["config"]["label_smoothing"] == 0.1


def test_bad_recipe_settings_are_refused_up_front(tmp_path):
    missing = tmp_path / "no-such-data.nc"
    with pytest.raises(ValueError, match=r"label_smoothing: must be a number in \[0, 1\), got 1.5"):
        _train(_cfg(label_smoothing=1.5), missing, tmp_path / "out")
    with pytest.raises(ValueError, match=r"augment_pad: must be a whole number >= 0, got -1"):
        _train(_cfg(augment_pad=-1), missing, tmp_path / "out")
