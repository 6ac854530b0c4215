"""`importer: assembly`: any benchmark folder as BrainIO writes it (assembly.nc + stimulus set)."""

import pandas as pd
import pytest
import yaml

from goaldriven import cli
from goaldriven.data.importers import IMPORTERS, import_assembly
from goaldriven.core.io import InputError
from goaldriven.data.assemblies import load_assembly
from goaldriven.data.stimulus_sets import load_stimulus_set
from builders import N_IMAGES, N_REPS, brainio_assembly, brainio_write_netcdf, write_stimuli
from workflow_helpers import REPO, copy_repo, planned_jobs

@pytest.fixture
def bench(tmp_path):
    folder = tmp_path / "lab2024"
    folder.mkdir()
    brainio_write_netcdf(brainio_assembly(), folder / "assembly.nc")
    write_stimuli(folder)
    return folder


def test_assembly_importer_is_registered():
    assert "assembly" in IMPORTERS


@pytest.mark.parametrize("layout", ["flat", "by_class", "zip"])
def test_imports_a_brainio_written_assembly_with_image_id(tmp_path, layout):
    folder = tmp_path / "src"
    folder.mkdir()
    brainio_write_netcdf(brainio_assembly(), folder / "assembly.nc")
    write_stimuli(folder, layout=layout)
    out = import_assembly(folder, tmp_path / "out")
    assembly = load_assembly(out / "assembly.nc", stimuli=out / "stimuli.nc")
    assert set(assembly.dims) == {"presentation", "neuroid"}
    assert assembly.sizes["presentation"] == N_IMAGES * N_REPS and "repetition" in assembly.coords
    assert sorted(set(assembly["region"].values)) == ["IT", "V4"]
    stimuli = load_stimulus_set(out / "stimuli.nc")
    assert stimuli.sizes["presentation"] == N_IMAGES and stimuli.sizes["x"] == 24
    assert assembly.attrs["identifier"] == "test.Lab2024.IT"


def test_import_command_resizes_and_the_benchmark_scores(tmp_path, bench, capsys):
    assert cli.main(["import", "assembly", str(bench), str(tmp_path / "out"), "--size", "32"]) == 0
    assert load_stimulus_set(tmp_path / "out/stimuli.nc").sizes["x"] == 32
    assert cli.main(["score-model", "--model", f"{REPO}/examples/my_model.py:build", "--layers", "conv2,fc",
                     "--benchmark", str(tmp_path / "out"), "--out", str(tmp_path / "s"), "--splits", "3"]) == 0
    table = pd.read_csv(tmp_path / "s/scores.csv")
    assert sorted(set(table["area"])) == ["IT", "V4"]
    assert table["ev"].notna().all()  # single trials give ceilings


def test_missing_stimulus_id_is_a_one_line_error_naming_file_and_field(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    brainio_write_netcdf(brainio_assembly(id_name="picture"), folder / "assembly.nc")
    write_stimuli(folder)
    with pytest.raises(InputError, match=r"assembly\.nc: no 'stimulus_id' \(or BrainIO's 'image_id'\) coordinate") as e:
        import_assembly(folder, tmp_path / "out")
    assert "\n" not in str(e.value) and not (tmp_path / "out").exists()


def test_csv_without_an_id_column_and_unknown_stimuli_are_errors(tmp_path, bench):
    table = pd.read_csv(bench / "stimulus_set.csv").rename(columns={"image_id": "name"})
    table.to_csv(bench / "stimulus_set.csv", index=False)
    with pytest.raises(InputError, match=r"stimulus_set\.csv: a BrainIO stimulus set CSV needs the column\(s\) \['stimulus_id'\]"):
        import_assembly(bench, tmp_path / "out")
    write_stimuli(bench, n_images=N_IMAGES - 1)
    with pytest.raises(InputError, match=r"assembly\.nc: 1 of 12 stimulus_ids are not in the stimulus set"):
        import_assembly(bench, tmp_path / "out")


def test_a_benchmark_is_a_config_entry(tmp_path, bench):
    """An `importer: assembly` entry joins the DAG: imported, featurised and scored for every model."""
    repo = copy_repo(tmp_path / "repo")
    config = yaml.safe_load((repo / "config/smoke.yaml").read_text())
    config["neural"]["lab2024"] = {"importer": "assembly", "source": str(bench), "size": 32}
    (repo / "config/lab.yaml").write_text(yaml.safe_dump(config))
    jobs = planned_jobs(repo, "--configfile", "config/lab.yaml")
    smoke = planned_jobs(repo, "--configfile", "config/smoke.yaml")
    n_models = len(config["models"]["archs"]) * len(config["models"]["tasks"]) * len(config["models"]["seeds"])
    assert jobs["import_assembly"] == 1
    assert jobs["score"] == smoke["score"] + n_models and jobs["features"] == smoke["features"] + n_models
