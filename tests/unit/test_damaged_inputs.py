"""Damaged inputs are one-line errors naming the file, never tracebacks (issue #14, should-fix):
a text file named .mat, a decompression-bomb image. Nothing is written and the inputs are unchanged."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workflow_helpers import SHARED, refused, tree_hash

KALFAS = SHARED / "kalfas2017_it"
K92 = SHARED / "kriegeskorte2008_92images"


def copy_data(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared data is read-only
    return dest


@pytest.mark.real_data
@pytest.mark.parametrize("dataset, folder, mat", [
    ("kalfas-it", KALFAS, "regular_irregular_SPIKES_yannis.mat"),              # read by mat-io
    ("kriegeskorte92", K92, "Kriegeskorte_Neuron2008_supplementalData.mat"),  # read by scipy
])
def test_a_text_file_named_mat_is_named(tmp_path, capsys, dataset, folder, mat):
    source = copy_data(folder, tmp_path / "src")
    (source / mat).write_text("this is not a MATLAB file\n")
    before = tree_hash(tmp_path)
    refused(["import", dataset, str(source), str(tmp_path / "out")], capsys, source / mat,
            "not a readable MATLAB file")
    assert tree_hash(tmp_path) == before and not (tmp_path / "out").exists()


def bomb(path: Path) -> Path:
    """A real decompression bomb: 196 million pixels (over twice PIL's limit) in a few kB of PNG."""
    Image.new("1", (14000, 14000)).save(path)
    assert path.stat().st_size < 100_000
    return path


def test_a_decompression_bomb_in_an_image_folder_is_named_and_refused(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "src" / cls).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "src" / cls / "0.png")
    bomb(tmp_path / "src" / "dogs" / "1.png")
    before = tree_hash(tmp_path)
    refused(["import", "image-folder", str(tmp_path / "src"), str(tmp_path / "set.nc")], capsys,
            "dogs/1.png", "decompression bomb")
    assert tree_hash(tmp_path) == before and not (tmp_path / "set.nc").exists()


@pytest.mark.real_data
def test_a_decompression_bomb_among_the_kalfas_bitmaps_is_named_and_refused(tmp_path, capsys):
    source = copy_data(KALFAS, tmp_path / "src")
    target = source / "regularIrregular" / "R1a.bmp"
    bomb(tmp_path / "bomb.png")
    shutil.move(tmp_path / "bomb.png", target)  # a PNG under a .bmp name: PIL reads the header, not the name
    before = tree_hash(tmp_path)
    refused(["import", "kalfas-it", str(source), str(tmp_path / "out")], capsys, target, "decompression bomb")
    assert tree_hash(tmp_path) == before and not (tmp_path / "out").exists()
