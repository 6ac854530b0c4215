"""Outputs never destroy inputs: a command replaces only a folder it wrote itself (issue #14, item 1).

Every case runs the real command line on real files, and checks the exit code, that the message
names the output, and that the source and every unrelated file are byte for byte as before.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from goaldriven import cli
from goaldriven.core.io import OUTPUT_MARKER, InputError
from goaldriven.data.stimulus_sets import save_stimulus_set_csv
from goaldriven.data.synthetic import generate_stimulus_set
from workflow_helpers import SHARED, refused, tree_hash

KALFAS = SHARED / "kalfas2017_it"
K92 = SHARED / "kriegeskorte2008_92images"


def copy_kalfas(dest: Path) -> Path:
    shutil.copytree(KALFAS, dest)
    for path in [dest, *dest.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the shared data is read-only
    return dest


@pytest.mark.real_data
def test_import_onto_its_own_source_is_refused(tmp_path, capsys):
    source = copy_kalfas(tmp_path / "kal")
    before = tree_hash(tmp_path)
    err = refused(["import", "kalfas-it", str(source), str(source)], capsys, source)
    assert "is the source" in err
    assert tree_hash(tmp_path) == before  # the .mat and the 64 bitmaps are still there


@pytest.mark.real_data
def test_import_into_a_folder_holding_the_source_is_refused(tmp_path, capsys):
    parent = tmp_path / "parent"
    source = copy_kalfas(parent / "kal")
    (parent / "notes.txt").write_text("unrelated\n")
    before = tree_hash(tmp_path)
    err = refused(["import", "kalfas-it", str(source), str(parent)], capsys, parent)
    assert "contains the source" in err
    assert tree_hash(tmp_path) == before


@pytest.mark.real_data
def test_import_inside_its_source_is_refused(tmp_path, capsys):
    source = copy_kalfas(tmp_path / "kal")
    before = tree_hash(tmp_path)
    err = refused(["import", "kalfas-it", str(source), str(source / "imported")], capsys, source / "imported")
    assert "lies inside the source" in err
    assert tree_hash(tmp_path) == before and not (source / "imported").exists()


@pytest.mark.real_data
def test_import_replaces_its_own_output_but_no_other_folder(tmp_path, capsys):
    out = tmp_path / "k92"
    assert cli.main(["import", "kriegeskorte92", str(K92), str(out)]) == 0
    assert (out / OUTPUT_MARKER).read_text() == "import kriegeskorte92\n"
    assert cli.main(["import", "kriegeskorte92", str(K92), str(out)]) == 0  # its own earlier output
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("months of work\n")
    before = tree_hash(tmp_path)
    err = refused(["import", "kriegeskorte92", str(K92), str(other)], capsys, other, "thesis.tex")
    assert "did not write" in err
    # another command's output is not this command's either
    err = refused(["import", "kalfas-it", str(KALFAS), str(out)], capsys, out)
    assert tree_hash(tmp_path) == before


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A repository with data/ and a finished results/ (the working directory of the command)."""
    repo = tmp_path / "project"
    (repo / ".git").mkdir(parents=True)
    (repo / "Snakefile").write_text("# workflow\n")
    (repo / "data").mkdir()
    (repo / "data" / "raw.mat").write_bytes(b"raw data")
    for sub in ("models", "features", "scores", "figures"):
        (repo / "results" / sub).mkdir(parents=True)
        (repo / "results" / sub / "x.bin").write_bytes(sub.encode())
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize("out", ["results", ".", "data", "results/figures/crate", ".."])
def test_crate_never_replaces_results_data_or_the_repository(fake_repo, capsys, out):
    before = tree_hash(fake_repo.parent)
    err = refused(["crate", out, "--results", "results/figures"], capsys, out)
    assert "results" in err or "repository" in err or "source" in err
    assert tree_hash(fake_repo.parent) == before


@pytest.mark.real_data
@pytest.mark.parametrize("out", ["data", "results", "."])
def test_import_never_replaces_results_data_or_the_repository(fake_repo, capsys, out):
    before = tree_hash(fake_repo.parent)
    refused(["import", "kriegeskorte92", str(K92), out], capsys, out)
    assert tree_hash(fake_repo.parent) == before


def image_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(root / cls / f"{k}.png")
    return root


@pytest.mark.parametrize("where", ["inside", "is"])
def test_image_folder_output_inside_or_onto_its_source_is_refused(tmp_path, capsys, where):
    source = image_folder(tmp_path / "src")
    out = source / "cats" / "set.nc" if where == "inside" else source
    before = tree_hash(tmp_path)
    refused(["import", "image-folder", str(source), str(out)], capsys, out)
    assert tree_hash(tmp_path) == before


def test_stimulus_set_csv_export_never_replaces_a_folder_it_did_not_write(tmp_path):
    da = generate_stimulus_set(seed=0, split="test", images_per_variation={0: 1}, size=16, objects_per_category=1)
    save_stimulus_set_csv(da, tmp_path / "set.csv")
    save_stimulus_set_csv(da, tmp_path / "set.csv")  # its own earlier export is replaced
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.png").write_bytes(b"keep")
    before = tree_hash(tmp_path)
    with pytest.raises(InputError, match=r"other.*did not write.*keep.png"):
        save_stimulus_set_csv(da, tmp_path / "other.csv")
    assert tree_hash(tmp_path) == before


def test_a_file_output_may_not_be_one_of_the_inputs(tmp_path, capsys):
    for name in ("features.nc", "assembly.nc"):
        (tmp_path / name).write_bytes(name.encode())
    before = tree_hash(tmp_path)
    features, recordings = tmp_path / "features.nc", tmp_path / "assembly.nc"
    refused(["score", "--features", str(features), "--recordings", str(recordings), "--out", str(features)],
            capsys, features, "is the input")
    refused(["trajectory-join", "--tables", str(recordings), "--out", str(recordings)], capsys, recordings)
    assert tree_hash(tmp_path) == before


def test_training_never_writes_into_its_dataset_or_the_results_folder(tmp_path, fake_repo, capsys):
    dataset = fake_repo / "results" / "models" / "x.bin"
    before = tree_hash(fake_repo.parent)
    for out in (str(dataset), str(fake_repo / "results"), str(fake_repo / "results" / "models")):
        refused(["train", "--arch", "hmo", "--seed", "0", "--epochs", "1", "--dataset", str(dataset),
                 "--out", out], capsys, out)
    assert tree_hash(fake_repo.parent) == before
