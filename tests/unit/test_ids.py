"""Ambiguous ids and disagreeing metadata are refused (issue #14, item 3), and so is a features
file without its layers attribute: exit code 2, one line naming the file and the id or field,
inputs unchanged."""

import numpy as np
import pytest
import xarray as xr

from goaldriven import cli
from goaldriven.core.io import InputError, open_netcdf, write_netcdf
from goaldriven.data.stimulus_sets import load_stimulus_set, save_stimulus_set_csv

from kalfas_scoring import digest, kalfas, refused  # noqa: F401 (kalfas is a fixture)

pytestmark = pytest.mark.real_data  # every test here scores the real Kalfas IT data


# --- item 3: ambiguous ids, disagreeing metadata -------------------------------------------------

def test_features_with_a_duplicated_stimulus_id_are_refused(kalfas, tmp_path, capsys):
    feats = open_netcdf(kalfas / "features.nc")
    ids = feats["stimulus_id"].values.copy()
    ids[5] = ids[9]
    write_netcdf(feats.assign_coords(stimulus_id=("presentation", ids)), tmp_path / "dup.nc")
    refused(tmp_path, capsys, tmp_path / "dup.nc", kalfas / "kalfas" / "assembly.nc",
            tmp_path / "dup.nc", repr(str(ids[9])), "duplicated stimulus_id")


def test_features_lacking_a_recorded_stimulus_are_refused(kalfas, tmp_path, capsys):
    feats = open_netcdf(kalfas / "features.nc")
    write_netcdf(feats.isel(presentation=slice(1, None)), tmp_path / "short.nc")
    refused(tmp_path, capsys, tmp_path / "short.nc", kalfas / "kalfas" / "assembly.nc",
            tmp_path / "short.nc", "lacks 1 stimuli", repr(str(feats["stimulus_id"].values[0])))


def test_shared_metadata_that_disagrees_is_refused_naming_the_first_mismatch(kalfas, tmp_path, capsys):
    feats = open_netcdf(kalfas / "features.nc")
    groups = feats["shape_group"].values.astype(object).copy()
    groups[3] = "R" if groups[3] != "R" else "IC"
    write_netcdf(feats.assign_coords(shape_group=("presentation", groups.astype(str))), tmp_path / "meta.nc")
    refused(tmp_path, capsys, tmp_path / "meta.nc", kalfas / "kalfas" / "assembly.nc",
            tmp_path / "meta.nc", "shape_group", repr(str(feats["stimulus_id"].values[3])))


def test_recordings_with_a_duplicated_stimulus_id_are_refused(kalfas, tmp_path, capsys):
    assembly = open_netcdf(kalfas / "kalfas" / "assembly.nc")
    ids = assembly["stimulus_id"].values.copy()
    ids[0] = ids[1]
    write_netcdf(assembly.assign_coords(stimulus_id=("presentation", ids)), tmp_path / "dup_rec.nc")
    refused(tmp_path, capsys, kalfas / "features.nc", tmp_path / "dup_rec.nc",
            tmp_path / "dup_rec.nc", "duplicate presentations", str(ids[1]))


def test_trials_of_stimuli_not_in_the_recordings_are_refused(kalfas, tmp_path, capsys):
    assembly = open_netcdf(kalfas / "kalfas" / "assembly.nc")
    trials = xr.concat([assembly, assembly + 1.0], dim="presentation")
    ids = trials["stimulus_id"].values.astype(object).copy()
    ids[[7, 7 + 64]] = "bogus"
    trials = trials.assign_coords(stimulus_id=("presentation", ids.astype(str)),
                                  repetition=("presentation", np.repeat([0, 1], 64)))
    write_netcdf(trials, tmp_path / "trials.nc")
    before = digest(tmp_path / "trials.nc")
    out = tmp_path / "scores.nc"
    rc = cli.main(["score", "--features", str(kalfas / "features.nc"), "--recordings",
                   str(kalfas / "kalfas" / "assembly.nc"), "--trials", str(tmp_path / "trials.nc"), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "assembly.nc: lacks 1 stimuli of" in err and "trials.nc" in err and "'bogus'" in err, err
    assert digest(tmp_path / "trials.nc") == before and not out.exists()


def test_stimulus_set_with_a_duplicated_id_is_refused(kalfas, tmp_path):
    stimuli = open_netcdf(kalfas / "kalfas" / "stimuli.nc").isel(presentation=slice(0, 4))
    save_stimulus_set_csv(stimuli, tmp_path / "set.csv")
    table = (tmp_path / "set.csv").read_text().splitlines()
    table[2] = table[1].split(",")[0] + "," + ",".join(table[2].split(",")[1:])
    (tmp_path / "set.csv").write_text("\n".join(table) + "\n")
    with pytest.raises(InputError, match=rf"set.csv: duplicate stimulus_id values \(e.g. '{table[1].split(',')[0]}'"):
        load_stimulus_set(tmp_path / "set.csv")


def test_features_file_without_its_layers_attribute_is_a_one_line_error(kalfas, tmp_path, capsys):
    feats = open_netcdf(kalfas / "features.nc")
    del feats.attrs["layers"]
    write_netcdf(feats, tmp_path / "nolayers.nc")
    refused(tmp_path, capsys, tmp_path / "nolayers.nc", kalfas / "kalfas" / "assembly.nc",
            tmp_path / "nolayers.nc", "'layers' attribute")


