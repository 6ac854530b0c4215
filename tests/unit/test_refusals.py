"""An audit that cannot be fooled (issue #25): bad outputs, inputs and options are refused in one
line (exit 2) before any work, naming the file or option, and leave every input byte for byte
as it was."""

import os
import subprocess
from pathlib import Path

import pytest

from workflow_helpers import refused, tree_hash


# --- item 1: an output may not overwrite an input --------------------------------------------

def _inputs(folder: Path) -> None:
    """Inputs of several commands, as a user's files (their bytes are what must survive)."""
    (folder / "F.nc").write_bytes(b"features of a model\n")
    (folder / "S.nc").write_bytes(b"scores of a model\n")
    (folder / "P.csv").write_text("arch,task\nhmo,supervised\n")
    (folder / "P.pdf").write_bytes(b"%PDF-1.4 a figure of the user's\n")
    (folder / "mm.py").write_text("def build():\n    import torch\n    return torch.nn.Identity()\n")


@pytest.mark.parametrize("argv, output", [
    (["similarity", "--features", "F.nc", "--summary", "F.nc", "--out", "sim.csv", "--correspondence", "c.csv"],
     "--summary F.nc"),
    (["leaderboard", "--scores", "S.nc", "--out-csv", "S.nc", "--out-json", "x.json"], "--out-csv S.nc"),
    (["figure", "layer_profiles", "--input", "predictivity_csv=P.csv", "--out", "P.csv"], "--out P.csv"),
    # the PDF goes beside the PNG: P.png would write P.pdf, the input
    (["figure", "layer_profiles", "--input", "predictivity_csv=P.pdf", "--out", "P.png"], "--out P.pdf"),
    (["external-model", "--model", "mm.py:build", "--layers", "x", "--name", "n", "--out", "mm.py"], "--out mm.py"),
], ids=["similarity-summary", "leaderboard-csv", "figure-png", "figure-pdf", "external-model-factory"])
def test_an_output_naming_an_input_is_refused_and_the_input_kept(argv, output, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    before = tree_hash(tmp_path)
    err = refused(argv, capsys, output)
    assert "the output is the input" in err
    assert tree_hash(tmp_path) == before


def test_a_file_output_that_is_a_folder_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)  # S.nc is not netCDF: had the work started, the error would name it
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep\n")
    before = tree_hash(tmp_path)
    err = refused(["leaderboard", "--scores", "S.nc", "--out-csv", "taken", "--out-json", "x.json"], capsys,
                  "--out-csv taken", "is a folder")
    assert "S.nc" not in err
    assert tree_hash(tmp_path) == before


@pytest.fixture
def read_only(tmp_path):
    """A folder no one may write: a read-only mount for root (whom mode bits do not stop),
    mode 555 for anyone else."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"root cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.mark.parametrize("argv, output", [
    (["leaderboard", "--scores", "S.nc", "--out-csv", "ro/x.csv", "--out-json", "x.json"], "--out-csv ro/x.csv"),
    (["score", "--features", "F.nc", "--recordings", "S.nc", "--out", "ro/sub/s.nc"], "--out ro/sub/s.nc"),
    (["summarise", "--scores", "S.nc", "--metrics", "S.nc", "--panel-features", "F.nc", "--panel-data", "S.nc",
      "--out-dir", "ro/tables"], "--out-dir ro/tables"),
])
def test_an_output_in_a_read_only_folder_is_refused_before_any_work(argv, output, read_only, tmp_path,
                                                                    monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    before = tree_hash(tmp_path)
    err = refused(argv, capsys, output, "cannot be written")
    assert "S.nc:" not in err and "F.nc:" not in err  # no input was read
    assert tree_hash(tmp_path) == before


# --- item 6: import assembly refuses an empty assembly and disagreeing metadata ----------------

def _benchmark(folder: Path, assembly) -> Path:
    from builders import brainio_write_netcdf, write_stimuli

    folder.mkdir()
    brainio_write_netcdf(assembly, folder / "assembly.nc")
    write_stimuli(folder)
    return folder


@pytest.mark.parametrize("dim", ["presentation", "neuroid"])
def test_import_refuses_an_empty_assembly(dim, tmp_path, capsys):
    from builders import brainio_assembly

    source = _benchmark(tmp_path / "src", brainio_assembly().isel({dim: slice(0, 0)}))
    before = tree_hash(tmp_path)
    refused(["import", "assembly", str(source), str(tmp_path / "out")], capsys, source / "assembly.nc",
            f"the assembly is empty: 0 {dim}")
    assert tree_hash(tmp_path) == before and not (tmp_path / "out").exists()


def test_import_refuses_an_object_name_that_disagrees_with_the_stimulus_set(tmp_path, capsys):
    import pandas as pd
    from builders import brainio_assembly

    source = _benchmark(tmp_path / "src", brainio_assembly())
    table = pd.read_csv(source / "stimulus_set.csv")
    table.loc[4, "object_name"] = "a_different_object"
    table.to_csv(source / "stimulus_set.csv", index=False)
    before = tree_hash(tmp_path)
    refused(["import", "assembly", str(source), str(tmp_path / "out")], capsys, source / "assembly.nc",
            "object_name of stimulus 'img04'", "stimulus_set.csv")
    assert tree_hash(tmp_path) == before and not (tmp_path / "out").exists()
