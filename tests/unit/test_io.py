"""goaldriven.core.io: atomic writes, readers whose errors name the file, folders a command owns."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from goaldriven.core.io import (OUTPUT_MARKER, InputError, atomic_folder, atomic_path, file_md5, open_netcdf, read_json,
                           write_csv, write_json, write_netcdf)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_writers_round_trip_and_replace_whole(tmp_path):
    write_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv")["a"].tolist() == [1, 2]
    write_json({"x": np.float32(0.5), "v": np.arange(2)}, tmp_path / "m.json")
    assert read_json(tmp_path / "m.json") == {"v": [0, 1], "x": 0.5}
    da = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("presentation", "neuroid"), name="x")
    write_netcdf(da, tmp_path / "a.nc")
    assert open_netcdf(tmp_path / "a.nc").equals(da)
    assert file_md5(tmp_path / "t.csv") == file_md5(tmp_path / "t.csv") and len(file_md5(tmp_path / "t.csv")) == 32


def test_readers_name_the_file_and_the_problem(tmp_path):
    with pytest.raises(InputError, match=r"missing\.json: file not found"):
        read_json(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.json: not valid JSON"):
        read_json(tmp_path / "bad.json")
    with pytest.raises(InputError, match=r"none\.nc: file not found"):
        open_netcdf(tmp_path / "none.nc")
    (tmp_path / "text.nc").write_text("not netcdf")
    with pytest.raises(InputError, match=r"text\.nc: not a readable netCDF dataset"):
        open_netcdf(tmp_path / "text.nc", kind="dataset")
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        write_json({"x": object()}, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_an_output_folder_is_replaced_only_when_this_command_wrote_it(tmp_path):
    out = tmp_path / "crate"
    with atomic_folder(out, command="goaldriven crate") as tmp:
        (tmp / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1" and (out / OUTPUT_MARKER).is_file()
    with atomic_folder(out, command="goaldriven crate") as tmp:  # its own earlier output: replaced
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir() if p.name != OUTPUT_MARKER) == ["b.txt"]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(InputError):
        with atomic_folder(mine, command="goaldriven crate"):
            pass
    assert (mine / "notes.txt").read_text() == "keep"
    assert json.dumps(sorted(p.name for p in mine.iterdir())) == '["notes.txt"]'
