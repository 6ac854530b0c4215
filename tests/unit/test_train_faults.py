"""Training faults (issue #14): a diverged or nonsensical training is refused and leaves no
weights; a training run owns its folder; a model folder mixing runs is refused by its readers.
Each case checks the exit status, that the message names the file or field, and that no
input and no unrelated file changed."""

import fcntl
import hashlib
import shutil
import subprocess

import pytest
from safetensors.torch import load_file, save_file

from goaldriven.cli import main
from goaldriven.core.io import InputError, read_json
from goaldriven.models.train import TrainConfig, load_weights, train
from goaldriven.study.trajectory import checkpoints


def _snapshot(root):
    """md5 of every file under ``root`` (inputs, unrelated files): what must not change."""
    return {p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def workspace(tiny_sets, tmp_path):
    """The stimulus sets copied into a folder with an unrelated file, as a user's project."""
    for split, path in tiny_sets.items():
        shutil.copy(path, tmp_path / f"{split}.nc")
    (tmp_path / "notes.txt").write_text("not goaldriven's\n")
    return tmp_path


def _cli_train(ws, out, *extra):
    return main(["train", "--arch", "hmo", "--seed", "0", "--epochs", "2", "--width", "0.25",
                 "--batch-size", "16", "--device", "cpu", "--dataset", str(ws / "train.nc"),
                 "--out", str(out), *extra])


@pytest.mark.parametrize("flags, message", [
    (["--lr", "nan"], "lr: must be a finite number > 0, got nan"),
    (["--lr", "inf"], "lr: must be a finite number > 0, got inf"),
    (["--lr", "0"], "lr: must be a finite number > 0, got 0.0"),
    (["--width", "nan"], "width: must be a finite number > 0, got nan"),
    (["--width", "-1"], "width: must be a finite number > 0, got -1.0"),
    (["--epochs", "0"], "epochs: task 'supervised' needs at least 1 epoch"),
    (["--task", "autoencoder", "--epochs", "0"], "epochs: task 'autoencoder' needs at least 1 epoch"),
])
def test_nonsensical_numbers_are_refused_up_front(workspace, flags, message, capsys):
    before = _snapshot(workspace)
    argv = ["train", "--arch", "hmo", "--seed", "0", "--epochs", "2", "--device", "cpu",
            "--dataset", str(workspace / "train.nc"), "--out", str(workspace / "out")]
    # later flags win in argparse, so the faulty one goes last
    assert main([*argv, *flags]) == 2
    assert message in capsys.readouterr().err
    assert _snapshot(workspace) == before and not (workspace / "out").exists()


@pytest.mark.parametrize("argv, flag", [
    (["stimuli", "--size", "0", "--out", "x.nc"], "--size"),
    (["stimuli", "--objects-per-category", "0", "--out", "x.nc"], "--objects-per-category"),
    (["import", "image-folder", "src", "x.nc", "--size", "0"], "--size"),
    (["train", "--arch", "hmo", "--seed", "0", "--epochs", "1", "--batch-size", "0", "--dataset", "d",
      "--out", "o"], "--batch-size"),
])
def test_zero_sizes_are_refused_at_parsing(argv, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert f"argument {flag}: expected an integer >= 1, got '0'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_diverged_training_stops_with_epoch_step_and_loss_and_writes_no_weights(workspace, capsys):
    before = _snapshot(workspace)
    out = workspace / "diverged"
    assert _cli_train(workspace, out, "--lr", "1e6") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"goaldriven train: error: {out}: training diverged in epoch 1 at step ")
    assert "loss nan" in err and "lr 1000000.0" in err and "no weights written" in err
    assert len(err.splitlines()) == 1  # one line, no traceback
    assert not (out / "weights.safetensors").exists() and not (out / "metrics.json").exists()
    assert list((out / "checkpoints").iterdir()) == []  # the diverged epoch is not resumable either
    assert {k: v for k, v in _snapshot(workspace).items() if not k.startswith("diverged/")} == before


def test_overflowing_batchnorm_statistics_count_as_divergence(workspace, capsys):
    # lr 1000: the loss stays finite (~1e25) but BatchNorm running variances overflow to inf,
    # which used to give weights that failed much later, in goaldriven features.
    out = workspace / "overflow"
    assert _cli_train(workspace, out, "--lr", "1000") == 2
    err = capsys.readouterr().err
    assert f"{out}: training diverged in epoch 1 at its end (non-finite weights or BatchNorm statistics)" in err
    assert not (out / "weights.safetensors").exists()


def test_weights_with_wrong_missing_or_nonfinite_tensors_name_file_and_tensor(workspace):
    out = workspace / "ok"
    train(TrainConfig(arch="hmo", seed=0, epochs=1, width=0.25, batch_size=16), workspace / "train.nc", out,
          progress=False, device="cpu")
    good = out / "weights.safetensors"
    meta = {"goaldriven": _raw_meta(good)}
    state = load_file(str(good))
    cases = {
        "missing": ({k: v for k, v in state.items() if k != "head.weight"}, r"lacks tensor 'head\.weight'"),
        "shape": ({**state, "head.bias": state["head.bias"][:3]}, r"tensor 'head\.bias' has shape \(3,\)"),
        "extra": ({**state, "spare": state["head.bias"].clone()}, r"tensor 'spare' is not part of the hmo network"),
        "nan": ({**state, "head.bias": state["head.bias"] * float("nan")},
                r"tensor 'head\.bias' holds NaN or infinite values"),
    }
    for name, (tensors, message) in cases.items():
        path = workspace / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=meta)
        with pytest.raises(InputError, match=rf"{name}\.safetensors: {message}"):
            load_weights(path)


def _raw_meta(path):
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return f.metadata()["goaldriven"]


def test_a_run_removes_what_another_run_left_in_its_folder(workspace, caplog):
    """The issue's case: keep_epochs [1, 2] then [1] with another lr into the same folder used to
    leave the first run's epoch 2 beside the second run's files, read as the second run's."""
    out = workspace / "model"
    cfg = TrainConfig(arch="hmo", seed=0, epochs=2, width=0.25, batch_size=16)
    train(cfg, workspace / "train.nc", out, progress=False, device="cpu", keep_epochs=[1, 2])
    (out / "unrelated.txt").write_text("mine\n")
    before = _snapshot(workspace)
    first_epoch1 = (out / "epochs/epoch_001.safetensors").read_bytes()
    with caplog.at_level("WARNING"):
        train(TrainConfig(**{**cfg.__dict__, "lr": 0.02}), workspace / "train.nc", out, progress=False,
              device="cpu", keep_epochs=[1])
    assert sorted(p.name for p in (out / "epochs").iterdir()) == ["epoch_001.safetensors"]
    assert (out / "epochs/epoch_001.safetensors").read_bytes() != first_epoch1
    assert "epoch_002.safetensors: left by another run" in caplog.text
    run = read_json(out / "metrics.json")["run"]
    assert [c.epoch for c in checkpoints(out, read_json(out / "metrics.json"))] == [1, 2]
    from goaldriven.models.train import _run_of
    assert _run_of(out / "epochs/epoch_001.safetensors") == run == _run_of(out / "weights.safetensors")
    after = _snapshot(workspace)
    assert {k: v for k, v in after.items() if not k.startswith("model/")} == \
        {k: v for k, v in before.items() if not k.startswith("model/")}
    assert after["model/unrelated.txt"] == before["model/unrelated.txt"]


def test_readers_refuse_a_kept_epoch_of_another_run(workspace):
    a, b = workspace / "a", workspace / "b"
    for out, seed in ((a, 0), (b, 1)):
        train(TrainConfig(arch="hmo", seed=seed, epochs=2, width=0.25, batch_size=16), workspace / "train.nc",
              out, progress=False, device="cpu", keep_epochs=[1])
    shutil.copy(a / "epochs/epoch_001.safetensors", b / "epochs/epoch_001.safetensors")
    with pytest.raises(InputError, match=r"b[/\\]epochs[/\\]epoch_001\.safetensors: comes from another training run"):
        checkpoints(b, read_json(b / "metrics.json"))
    shutil.copy(a / "weights.safetensors", b / "weights.safetensors")
    with pytest.raises(InputError, match=r"b[/\\]weights\.safetensors: comes from another training run"):
        checkpoints(b, read_json(b / "metrics.json"))


def test_a_second_training_into_the_same_folder_is_refused_while_the_first_runs(workspace, capsys):
    out = workspace / "busy"
    out.mkdir()
    with open(out / ".train.lock", "a+") as held:  # what a running training holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        assert _cli_train(workspace, out) == 2
    err = capsys.readouterr().err
    assert f"{out}: another training (process 4242) is writing into this folder" in err
    assert not (out / "weights.safetensors").exists()
    assert _cli_train(workspace, out) == 0  # released: it runs


def test_an_unwritable_output_is_refused_before_training(workspace, capsys):
    (workspace / "afile").write_text("x")
    before = _snapshot(workspace)
    assert _cli_train(workspace, workspace / "afile") == 2
    assert f"{workspace / 'afile'}: exists and is not a folder" in capsys.readouterr().err
    assert _cli_train(workspace, workspace / "afile" / "model") == 2
    assert f"{workspace / 'afile' / 'model'}: cannot write the training outputs here" in capsys.readouterr().err
    assert _snapshot(workspace) == before


@pytest.mark.root
def test_a_read_only_output_folder_is_refused_before_training(workspace, capsys):
    # A read-only file system: a folder's mode bits alone do not stop root, who runs CI.
    ro = workspace / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(ro)], check=True)
    try:
        assert _cli_train(workspace, ro / "model") == 2
        # refused by the command line's check of every output (goaldriven.cli.safety), before training
        assert f"--out {ro / 'model'}: {ro} cannot be written" in capsys.readouterr().err
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=True)
