"""A fresh smoke run, then the tampering and overwrite cases of the audit (issue #25): each is
refused or detected, and nothing is lost. Each case puts back what it changed."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from workflow_helpers import SMOKE, run, tree_hash

pytestmark = pytest.mark.slow
FIGURE = "results/smoke/figures/layer_profiles.png"
FEATURES = "results/smoke/features/simulated/hmo/supervised_seed0.nc"
SCORES = "results/smoke/scores/simulated/hmo/supervised_seed0.nc"


def _refused(repo, argv, *names):
    result = run(["goaldriven", *argv], repo, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and all(str(n) in result.stderr for n in names), result.stderr
    return result.stderr


def test_outputs_naming_inputs_are_refused_and_the_inputs_kept(built):
    before = tree_hash(built / "results/smoke")
    _refused(built, ["similarity", "--features", FEATURES, "--out", "x.csv", "--summary", FEATURES,
                     "--correspondence", "y.csv"], FEATURES)
    _refused(built, ["leaderboard", "--scores", SCORES, "--out-csv", SCORES, "--out-json", "x.json"], SCORES)
    table = "results/smoke/summary/predictivity.csv"
    _refused(built, ["figure", "layer_profiles", "--input", f"predictivity_csv={table}", "--out", table], table)
    assert tree_hash(built / "results/smoke") == before


def test_train_refuses_a_folder_of_someone_elses_files(built, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "weights.safetensors").write_bytes(b"my own weights")
    (mine / "metrics.json").write_text("{}")
    _refused(built, ["train", "--arch", "hmo", "--seed", "0", "--epochs", "1", "--width", "0.25",
                     "--dataset", "results/smoke/stimuli/train.nc", "--out", str(mine)], mine)
    assert (mine / "weights.safetensors").read_bytes() == b"my own weights"


def test_a_damaged_checkpoint_is_named_and_the_rerun_ends_with_the_same_weights(built, tmp_path):
    model = built / "results/smoke/models/hmo/supervised_seed0"
    manifest = json.loads((model.parent / ".goaldriven-runs" / f"{model.name}.json").read_text()) \
        if (model.parent / ".goaldriven-runs" / f"{model.name}.json").is_file() else None
    command = manifest["command"] if manifest else None
    assert command, "no run manifest of the training"
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    newest = sorted((copy / "checkpoints").glob("epoch_*.pt"))[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    (copy / "weights.safetensors").unlink()
    argv = command[1:]
    argv[argv.index("--out") + 1] = str(copy)
    result = run(["goaldriven", *argv], built)
    assert newest.name in result.stdout + result.stderr
    assert (copy / "weights.safetensors").read_bytes() == (model / "weights.safetensors").read_bytes()


def test_a_changed_config_value_and_a_forged_manifest_fail_the_lineage(built):
    config = built / "config/smoke.yaml"
    before = config.read_text()
    try:
        config.write_text(before.replace("width: 0.25", "width: 0.35"))
        bad = run(["goaldriven", "lineage", FIGURE], built, check=False)
        assert bad.returncode != 0 and "models.width: 0.25 -> 0.35" in bad.stderr
    finally:
        config.write_text(before)
    manifest = built / "results/smoke/figures/.goaldriven-runs/layer_profiles.png.json"
    original = manifest.read_text()
    try:
        forged = json.loads(original)
        forged["git_commit"] = "deadbeef" * 5
        manifest.write_text(json.dumps(forged))
        bad = run(["goaldriven", "lineage", FIGURE], built, check=False)
        assert bad.returncode != 0 and "deadbeef" in bad.stderr and "does not have" in bad.stderr
    finally:
        manifest.write_text(original)
    run(["goaldriven", "lineage", FIGURE], built)  # all put back: it checks again


def test_scores_do_not_depend_on_the_recordings_row_order(built, tmp_path):
    import xarray as xr

    from goaldriven.core.io import write_netcdf

    recordings = xr.open_dataarray(built / "results/smoke/recordings/simulated.nc").load()
    reversed_ = tmp_path / "reversed.nc"
    write_netcdf(recordings.isel(presentation=slice(None, None, -1)), reversed_)
    out = tmp_path / "scores.nc"
    cfg = yaml.safe_load((built / "config/smoke.yaml").read_text())["comparison"]
    run(["goaldriven", "score", "--features", FEATURES, "--recordings", str(reversed_), "--benchmark", "simulated",
         "--splits", str(cfg["splits"]), "--seed", str(cfg["seed"]), "--out", str(out)], built)
    with xr.open_dataset(out) as a, xr.open_dataset(built / SCORES) as b:
        for name in ("rsa_ceiling_low", "rsa_ceiling_high", "ev", "r", "rsa"):
            assert a[name].equals(b[name]), name


def test_a_hostile_label_runs_no_code(built, tmp_path):
    config = built / "config/smoke.yaml"
    before = config.read_text()
    try:
        config.write_text(before.replace("label: simulated recordings",
                                         "label: \"x' --out results/smoke/figures/montage.png; touch PWNED; echo '\""))
        run(["snakemake", "--cores", "1", "results/smoke/figures/montage.png", "--forcerun", "figure_montage",
             *SMOKE], built)
        assert not (built / "PWNED").exists()
    finally:
        config.write_text(before)
        run(["snakemake", "--cores", "1", "results/smoke/figures/montage.png", "--forcerun", "figure_montage",
             *SMOKE], built)
