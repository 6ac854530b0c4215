"""Output faults (issue #14): a full disk is reported as such, with the path, by every kind of
writer (netCDF, JSON, torch checkpoints), and leaves neither a partial file nor a changed input."""

import shutil
import subprocess
import uuid

import pytest

from goaldriven.cli import main

pytestmark = pytest.mark.root  # mounts a real, tiny file system


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs: a real file system that fills up (needs root, as in CI's container)."""
    mount = tmp_path / f"full-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    assert done.returncode == 0, f"cannot mount a small tmpfs here ({done.stderr.decode().strip()}); run as root"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)  # lazy: HDF5 may keep a handle


def test_a_full_disk_is_named_as_such_for_a_netcdf_output(full_disk, capsys):
    out = full_disk / "stimuli.nc"
    assert main(["stimuli", "--size", "64", "--objects-per-category", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"goaldriven stimuli: error: {out}: no space left on device")
    assert "HDF error" in err  # what the library said, kept as the detail
    assert list(full_disk.iterdir()) == []  # no half-written file


def test_a_full_disk_during_training_stops_it_with_the_path(full_disk, tiny_sets, tmp_path, capsys):
    data = tmp_path / "train.nc"
    shutil.copy(tiny_sets["train"], data)
    before = data.read_bytes()
    out = full_disk / "model"
    assert main(["train", "--arch", "hmo", "--seed", "0", "--epochs", "1", "--width", "0.25", "--device", "cpu",
                 "--dataset", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{out}/" in err and "no space left on device" in err and len(err.splitlines()) == 1
    assert data.read_bytes() == before
    assert not (out / "weights.safetensors").exists()
    # no half-written temporary file (a complete checkpoint may stay: it is what resuming reads; the
    # lock and the marker that says goaldriven made the folder are written before training starts)
    assert [p.name for p in out.rglob(".*") if p.is_file() and p.name not in (".train.lock", ".goaldriven-output")] == []
