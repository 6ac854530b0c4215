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
    assert mounted.returncode == 0, f"cannot mount a read-only tmpfs here ({mounted.stderr.decode().strip()})"
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.mark.root  # root needs a read-only mount (mode bits do not stop it): only with --full, as in CI
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


# --- items 7 and 12: an external layer giving NaN or a scalar, transposed features -------------

FAULTY_MODEL = '''
import torch


class Broken(torch.nn.Module):
    def forward(self, x):
        return x * float("nan")


class Total(torch.nn.Module):
    def forward(self, x):
        return x.sum()  # one number for the whole batch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.broken = Broken()
        self.total = Total()

    def forward(self, x):
        y = self.conv(x)
        self.total(y)
        return self.broken(y)


def build():
    torch.manual_seed(0)
    return Net()
'''


@pytest.mark.parametrize("layer, message", [("broken", "layer 'broken' gives NaN or infinite values"),
                                            ("total", "module 'total' returns a tensor of shape ()")])
def test_features_of_a_layer_giving_nan_or_a_scalar_are_refused_and_leave_no_folder(layer, message, tiny_sets,
                                                                                     tmp_path, capsys):
    (tmp_path / "faulty.py").write_text(FAULTY_MODEL)
    out = tmp_path / "new" / "features.nc"
    refused(["features", "--model", f"{tmp_path}/faulty.py:build", "--layers", f"conv,{layer}", "--stimuli",
             str(tiny_sets["test"]), "--model-id", "faulty", "--out", str(out)], capsys, message)
    assert not (tmp_path / "new").exists()


def test_score_model_with_a_layer_giving_nan_leaves_no_output_folder(tmp_path, capsys):
    from goaldriven.data.importers import import_assembly
    from builders import brainio_assembly

    bench = import_assembly(_benchmark(tmp_path / "src", brainio_assembly()), tmp_path / "bench")
    (tmp_path / "faulty.py").write_text(FAULTY_MODEL)
    refused(["score-model", "--model", f"{tmp_path}/faulty.py:build", "--layers", "conv,broken", "--benchmark",
             str(bench), "--out", str(tmp_path / "scored"), "--splits", "3"], capsys, "'broken'", "NaN")
    assert not (tmp_path / "scored").exists()


@pytest.mark.parametrize("command", ["score", "matching", "similarity"])
def test_transposed_features_are_named_not_an_index_error(command, tmp_path, capsys):
    import numpy as np
    import xarray as xr
    from goaldriven.models.features import save_features
    from builders import brainio_assembly, brainio_write_netcdf

    rng = np.random.default_rng(0)
    ids = [f"img{i:02d}" for i in range(12)]
    features = xr.DataArray(rng.normal(size=(12, 6)), dims=("presentation", "neuroid"), name="features",
                            coords={"stimulus_id": ("presentation", ids), "layer": ("neuroid", ["a"] * 3 + ["b"] * 3)},
                            attrs={"model": "toy/supervised_seed0", "layers": "a,b"})
    path = tmp_path / "transposed.nc"
    save_features(features.transpose(), path)
    brainio_write_netcdf(brainio_assembly(), tmp_path / "recordings.nc")
    argv = {"score": ["score", "--features", str(path), "--recordings", str(tmp_path / "recordings.nc"),
                      "--out", str(tmp_path / "out.nc")],
            "matching": ["matching", "--features", str(path), str(path), "--out", str(tmp_path / "out.csv")],
            "similarity": ["similarity", "--features", str(path), "--out", str(tmp_path / "out.csv"),
                           "--summary", str(tmp_path / "b.csv"), "--correspondence", str(tmp_path / "c.csv")]}
    refused(argv[command], capsys, path, "a features file is (presentation, neuroid)")
    assert not list(tmp_path.glob("out.*"))


# --- item 8: summarise replaces only its own tables ---------------------------------------------

@pytest.fixture
def summary_inputs(tmp_path):
    """A toy model's scores, metrics and features, and the recordings: what summarise reads."""
    import json

    from goaldriven.compare.score import score_model
    from goaldriven.core.io import write_netcdf
    from goaldriven.core.options import ScoringSpec
    from goaldriven.data.assemblies import save_assembly
    from goaldriven.models.features import save_features
    from builders import toy_features, toy_recordings

    recordings, signal = toy_recordings()
    save_assembly(recordings, tmp_path / "recordings.nc")
    save_features(toy_features(signal), tmp_path / "features.nc")
    write_netcdf(score_model(tmp_path / "features.nc", tmp_path / "recordings.nc", spec=ScoringSpec(splits=3),
                             benchmark="toy"), tmp_path / "scores.nc")
    (tmp_path / "metrics.json").write_text(json.dumps({"config": {"arch": "toy", "task": "supervised", "seed": 0},
                                                       "test_accuracy": 0.5}))
    return ["summarise", "--scores", str(tmp_path / "scores.nc"), "--metrics", str(tmp_path / "metrics.json"),
            "--panel-features", str(tmp_path / "features.nc"), "--panel-data", str(tmp_path / "recordings.nc")]


def test_summarise_refuses_a_folder_holding_a_users_table_and_accepts_its_own(summary_inputs, tmp_path, capsys):
    from goaldriven.cli import main

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "models.csv").write_text("my,own\n1,2\n")
    before = tree_hash(tmp_path)
    refused([*summary_inputs, "--out-dir", str(mine)], capsys, mine, "models.csv", "summarise did not write")
    assert tree_hash(tmp_path) == before
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "leaderboard.csv").write_text("another command's table\n")  # a shared folder: left alone
    assert main([*summary_inputs, "--out-dir", str(tables)]) == 0
    first = tree_hash(tables)
    assert {"models.csv", "rdms.nc", "leaderboard.csv"} <= set(first)
    assert main([*summary_inputs, "--out-dir", str(tables)]) == 0  # its own earlier output: replaced
    assert tree_hash(tables) == first


# --- item 9: a truncated CSV is named, not read short -------------------------------------------

def _predictivity_csv(path: Path) -> Path:
    import pandas as pd
    from goaldriven.core.io import write_csv

    rows = [{"arch": arch, "task": "supervised", "seed": seed, "layer": f"layer{k}", "layer_index": k,
             "region": region, "ev_median": 0.1 * k + 0.01 * seed, "benchmark": "toy"}
            for arch in ("hmo", "vgg") for seed in (0, 1) for k in range(1, 5) for region in ("V4", "IT")]
    write_csv(pd.DataFrame(rows), path)
    return path


def _models_csv(path: Path) -> Path:
    import numpy as np
    import pandas as pd
    from goaldriven.core.io import write_csv

    rng = np.random.default_rng(0)
    write_csv(pd.DataFrame({"arch": np.repeat(["hmo", "vgg", "alexnet"], 4), "task": "supervised",
                            "seed": np.tile(range(4), 3), "it_ev": rng.uniform(0.2, 0.5, 12)}), path)
    return path


@pytest.mark.parametrize("cut", ["mid-row", "mid-field", "short-row"])
@pytest.mark.parametrize("command", ["figure", "layer-profiles", "seed-variance"])
def test_a_truncated_csv_is_refused_naming_the_file(command, cut, tmp_path, capsys):
    table = (_models_csv if command == "seed-variance" else _predictivity_csv)(tmp_path / "table.csv")
    text = table.read_text()
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    # mid-row: the last row loses its last fields; mid-field: only its last characters (and newline);
    # short-row: its last fields, but the newline is there
    keep = len(text) - 1 - (2 if cut == "mid-field" else len(last) - last.index(",") - 1)
    table.write_text(text[:keep] + ("\n" if cut == "short-row" else ""))
    argv = {"figure": ["figure", "layer_profiles", "--input", f"predictivity_csv={table}",
                       "--out", str(tmp_path / "fig.png")],
            "layer-profiles": ["layer-profiles", "--predictivity", str(table), "--out-dir", str(tmp_path / "out")],
            "seed-variance": ["seed-variance", "--models", str(table), "--out", str(tmp_path / "out.csv")]}[command]
    before = tree_hash(tmp_path)
    refused(argv, capsys, table, "truncated")
    assert tree_hash(tmp_path) == before


# --- item 10: numeric options checked when the command line is parsed ---------------------------

SCORE = ["score", "--features", "F.nc", "--recordings", "S.nc", "--out", "o.nc"]
TRAIN = ["train", "--arch", "hmo", "--seed", "0", "--epochs", "1", "--dataset", "F.nc", "--out", "m"]


@pytest.mark.parametrize("argv, option, expected", [
    ([*SCORE, "--splits", "1"], "--splits", "an integer from 2 to 1000"),
    ([*SCORE, "--splits", "100000"], "--splits", "an integer from 2 to 1000"),
    ([*SCORE, "--seed", "-5"], "--seed", "an integer >= 0"),
    (["score-model", "--model", "mm.py:build", "--layers", "x", "--benchmark", "b", "--out", "o", "--splits", "1"],
     "--splits", "an integer from 2 to 1000"),
    ([*TRAIN, "--seed", "-5"], "--seed", "an integer >= 0"),
    ([*TRAIN, "--epochs", "-1"], "--epochs", "an integer >= 0"),
    (["features", "--weights", "w", "--stimuli", "F.nc", "--model-id", "m", "--out", "f.nc",
      "--projection-seed", "-5"], "--projection-seed", "an integer >= 0"),
    (["seed-variance", "--models", "P.csv", "--out", "o.csv", "--level", "nan"], "--level", "a number between 0 and 1"),
    (["seed-variance", "--models", "P.csv", "--out", "o.csv", "--level", "1.5"], "--level", "a number between 0 and 1"),
    (["score-rdms", "--features", "F.nc", "--rdms", "S.nc", "--out", "o.nc", "--bootstraps", "-3"],
     "--bootstraps", "an integer >= 0"),
    (["leaderboard", "--scores", "S.nc", "--out-csv", "a.csv", "--out-json", "b.json", "--bootstraps", "-3"],
     "--bootstraps", "an integer >= 0"),
    (["similarity", "--features", "F.nc", "--out", "a.csv", "--summary", "b.csv", "--correspondence", "c.csv",
      "--permutations", "-1"], "--permutations", "an integer >= 1"),
    (["matching", "--features", "F.nc", "--out", "a.csv", "--permutations", "-1"], "--permutations",
     "an integer >= 1"),
    (["simulate", "--weights", "w", "--stimuli", "F.nc", "--out", "x.nc", "--n-v4", "-3"], "--n-v4",
     "an integer >= 1"),
    (["import", "image-folder", "F.nc", "x.nc", "--per-class", "-1"], "--per-class", "an integer >= 1"),
    (["stimuli", "--out", "x.nc", "--images-per-variation", "0:0,3:0"], "--images-per-variation", "counts >= 0, not all 0"),
])
def test_a_bad_number_is_refused_when_parsing(argv, option, expected, tmp_path, monkeypatch, capsys):
    from goaldriven.cli import main

    monkeypatch.chdir(tmp_path)
    _inputs(tmp_path)
    before = tree_hash(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.startswith(f"goaldriven {argv[0]}: error: argument {option}: expected {expected}"), err
    assert err.count("\n") == 1, err  # one line, no page of usage
    assert tree_hash(tmp_path) == before


@pytest.mark.parametrize("argv", [
    ["score-rdms", "--features", "F.nc", "--rdms", "S.nc", "--out", "o.nc", "--bootstraps", "0"],
    ["leaderboard", "--scores", "S.nc", "--out-csv", "a.csv", "--out-json", "b.json", "--bootstraps", "0"],
    ["positive-control", "--scores", "S.nc", "--out", "a.csv", "--bootstraps", "0"],
])
def test_zero_bootstraps_is_no_interval_as_the_config_allows(argv):
    """config comparison.rdm_bootstraps and leaderboard_bootstraps may be 0 (no interval)."""
    from goaldriven.cli import build_parser

    assert build_parser().parse_args(argv).bootstraps == 0


def test_scoring_spec_checks_python_callers_too():
    from goaldriven.core.io import InputError
    from goaldriven.core.options import ScoringSpec

    for kwargs, message in (({"splits": 1}, "splits: need an integer from 2 to 1000"),
                            ({"splits": 100_000}, "splits: need an integer from 2 to 1000"),
                            ({"seed": -5}, "seed: need an integer >= 0")):
        with pytest.raises(InputError, match=message):
            ScoringSpec(**kwargs)
    assert ScoringSpec(splits=2).splits == 2


def test_import_replaces_its_own_folder_but_image_folder_writes_a_file(tmp_path, capsys):
    """import's OUT is a folder for every importer but image-folder: the safety check must not
    refuse an earlier import's folder as "a folder where a file is written"."""
    from goaldriven.cli import main
    from builders import brainio_assembly

    source = _benchmark(tmp_path / "src", brainio_assembly())
    out = tmp_path / "imported"
    assert main(["import", "assembly", str(source), str(out)]) == 0
    first = tree_hash(out)
    assert main(["import", "assembly", str(source), str(out)]) == 0  # its own earlier output: replaced
    assert tree_hash(out) == first
    refused(["import", "image-folder", str(source), str(out)], capsys, out, "is a folder")
    assert tree_hash(out) == first
