"""Neural predictivity along training, on tiny real trainings scored against simulated recordings."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from goaldriven.core.options import ScoringSpec

from goaldriven.cli import main
from goaldriven.study.figures import make
from goaldriven.core.io import InputError, read_json, write_netcdf
from goaldriven.data.assemblies import save_assembly
from goaldriven.models.simulate import simulate_recordings
from goaldriven.compare.score import score_model
from goaldriven.study.summary import tables
from goaldriven.models.train import TrainConfig, train
from goaldriven.study.trajectory import join_tables, trajectory_table
from builders import check_outputs

SPLITS = 4
REGIONS = {"V4", "IT"}


@pytest.fixture(scope="module")
def runs(tiny_sets, tmp_path_factory):
    """A tiny hmo trained 3 epochs keeping epochs 1 and 2, its untrained control, and SIMULATED
    recordings of the test images from a brainnet surrogate."""
    root = tmp_path_factory.mktemp("trajectory")
    for task, epochs, keep in (("supervised", 3, (1, 2)), ("untrained", 3, ())):
        train(TrainConfig(arch="hmo", seed=0, epochs=epochs, task=task, width=0.25, batch_size=32),
              tiny_sets["train"], root / task, test_dataset=tiny_sets["test"], progress=False, keep_epochs=keep)
    train(TrainConfig(arch="brainnet", seed=1, epochs=1, width=0.25, batch_size=16), tiny_sets["train"],
          root / "surrogate", progress=False)
    rec = simulate_recordings(root / "surrogate" / "weights.safetensors", tiny_sets["test"], n_v4=30, n_it=40,
                              n_reps=10, seed=3)
    save_assembly(rec, root / "rec.nc")
    return root


@pytest.fixture(scope="module")
def table(runs, tiny_sets):
    return trajectory_table([runs / "supervised", runs / "untrained"], tiny_sets["test"], runs / "rec.nc",
                            scoring=ScoringSpec(splits=SPLITS, seed=0), benchmark="sim")


def test_one_row_per_model_epoch_and_region(table):
    assert not table.duplicated(["model", "epoch", "region"]).any()
    epochs = table.groupby("model")["epoch"].unique().map(sorted).to_dict()
    assert epochs == {"hmo/supervised_seed0": [1, 2, 3], "hmo/untrained_seed0": [0]}
    assert all(set(g) == REGIONS for _, g in table.groupby(["model", "epoch"])["region"])
    assert table.loc[table["final"], "epoch"].tolist() == [3, 3, 0, 0]
    assert table["best_layer"].isin(["layer1", "layer2", "layer3", "layer4", "fc"]).all()
    # Simulated trials give a ceiling, so every score is ceiling-normalised and finite.
    assert table["ceiling_normalised"].all() and np.isfinite(table["ev_median"]).all()
    assert (table["benchmark"] == "sim").all() and (table["n_sites"] == table["region"].map({"V4": 30, "IT": 40})).all()


def test_accuracies_are_those_recorded_by_training(table, runs):
    metrics = read_json(runs / "supervised" / "metrics.json")
    expected = {h["epoch"]: h["test_accuracy"] for h in metrics["history"][:2]} | {3: metrics["test_accuracy"]}
    sup = table[table["task"] == "supervised"].drop_duplicates("epoch").set_index("epoch")["test_accuracy"]
    assert sup.to_dict() == expected
    untrained = table.loc[table["task"] == "untrained", "test_accuracy"].unique()
    assert untrained.tolist() == [read_json(runs / "untrained" / "metrics.json")["test_accuracy"]]


def test_final_epoch_matches_the_summary_of_the_same_weights(table, runs, tiny_sets, tmp_path):
    """The last epoch's row is what `goaldriven score` + `summarise` say of the final weights."""
    from goaldriven.models.features import extract_assembly
    from goaldriven.data.stimulus_sets import load_stimulus_set

    feats = extract_assembly(runs / "supervised" / "weights.safetensors", load_stimulus_set(tiny_sets["test"]),
                             model_id="hmo/supervised_seed0")
    write_netcdf(feats, tmp_path / "f.nc")
    write_netcdf(score_model(tmp_path / "f.nc", runs / "rec.nc", spec=ScoringSpec(splits=SPLITS, seed=0)), tmp_path / "s.nc")
    models = tables([tmp_path / "s.nc"], [runs / "supervised" / "metrics.json"])["models"].iloc[0]
    final = table[(table["task"] == "supervised") & table["final"]].set_index("region")
    for region in REGIONS:
        assert final.loc[region, "ev_median"] == pytest.approx(models[f"{region.lower()}_ev"], abs=1e-12)
        assert final.loc[region, "best_layer"] == models[f"{region.lower()}_best_layer"]


def test_cli_writes_the_table(table, runs, tiny_sets, tmp_path):
    out = tmp_path / "t.csv"
    assert main(["trajectory", "--models", str(runs / "untrained"), "--stimuli", str(tiny_sets["test"]),
                 "--recordings", str(runs / "rec.nc"), "--splits", str(SPLITS), "--benchmark", "sim",
                 "--out", str(out)]) == 0
    written = pd.read_csv(out)
    expected = table[table["task"] == "untrained"].reset_index(drop=True)
    pd.testing.assert_frame_equal(written[["model", "epoch", "region", "best_layer"]],
                                  expected[["model", "epoch", "region", "best_layer"]])
    np.testing.assert_allclose(written["ev_median"], expected["ev_median"], atol=1e-12)


def test_figure_from_the_table(table, tmp_path):
    table.to_csv(tmp_path / "t.csv", index=False)
    make("trajectory", {"table_csv": tmp_path / "t.csv"}, tmp_path / "t.png", data_label="simulated recordings")
    check_outputs(tmp_path / "t.png")


def test_bad_model_folders_name_the_file(runs, tiny_sets, tmp_path):
    def run(*dirs):
        return trajectory_table(dirs, tiny_sets["test"], runs / "rec.nc", scoring=ScoringSpec(splits=SPLITS))

    with pytest.raises(InputError, match=r"empty[/\\]metrics\.json: file not found"):
        run(tmp_path / "empty")
    with pytest.raises(InputError, match="hmo/untrained_seed0 is also in"):
        run(runs / "untrained", runs / "untrained")
    broken = tmp_path / "broken"
    shutil.copytree(runs / "supervised", broken, ignore=shutil.ignore_patterns("checkpoints"))
    (broken / "epochs" / "epoch_002.safetensors").write_bytes(b"not weights")
    with pytest.raises(InputError, match=r"epoch_002\.safetensors: not a readable safetensors"):
        run(broken)
    foreign = tmp_path / "foreign"
    shutil.copytree(runs / "untrained", foreign)
    shutil.copytree(runs / "supervised" / "epochs", foreign / "epochs")
    with pytest.raises(InputError, match=r"foreign[/\\]epochs[/\\]epoch_001\.safetensors: comes from another training run"):
        run(foreign)
    (foreign / "metrics.json").write_text(json.dumps({"history": []}))
    with pytest.raises(InputError, match=r"foreign[/\\]metrics\.json: not the metrics of goaldriven train"):
        run(foreign)


def test_per_model_tables_join_into_the_table_of_all_models(table, runs, tiny_sets, tmp_path):
    # The workflow scores each model in a job of its own, then joins the tables.
    paths = []
    for name in ("supervised", "untrained"):
        paths.append(tmp_path / f"{name}.csv")
        main(["trajectory", "--models", str(runs / name), "--stimuli", str(tiny_sets["test"]),
              "--recordings", str(runs / "rec.nc"), "--splits", str(SPLITS), "--benchmark", "sim",
              "--out", str(paths[-1])])
    main(["trajectory-join", "--tables", *map(str, paths), "--out", str(tmp_path / "all.csv")])
    table.to_csv(tmp_path / "expected.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "all.csv"), pd.read_csv(tmp_path / "expected.csv"))
    with pytest.raises(InputError, match="model hmo/supervised_seed0 is also in"):
        join_tables([paths[0], paths[1], paths[0]])
    pd.read_csv(paths[0]).drop(columns="ev_median").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError, match="bad.csv: not a trajectory table"):
        join_tables([paths[1], tmp_path / "bad.csv"])


def test_final_scores_made_with_other_options_are_refused(runs, tiny_sets, tmp_path):
    from goaldriven.models.features import extract_assembly
    from goaldriven.data.stimulus_sets import load_stimulus_set

    feats = extract_assembly(runs / "untrained" / "weights.safetensors", load_stimulus_set(tiny_sets["test"]),
                             model_id="hmo/untrained_seed0")
    write_netcdf(feats, tmp_path / "f.nc")
    write_netcdf(score_model(tmp_path / "f.nc", runs / "rec.nc", spec=ScoringSpec(splits=SPLITS, seed=0, criterion="gcv")),
                 tmp_path / "s.nc")
    with pytest.raises(InputError, match="s.nc: scored with criterion gcv, not loo"):
        trajectory_table([runs / "untrained"], tiny_sets["test"], runs / "rec.nc", scoring=ScoringSpec(splits=SPLITS),
                         final_scores=[tmp_path / "s.nc"])
