"""Size guards and damaged files (issue #25, item 5): an archive member or a netCDF declaring more
than a documented limit is refused before it is read, and a damaged netCDF is named, in one line."""

import io
import tarfile
import zipfile

import netCDF4
import numpy as np
import pytest
import xarray as xr
from PIL import Image

from goaldriven.core.io import MAX_NETCDF_BYTES
from goaldriven.data.stimulus_sets import MAX_IMAGE_FILE_BYTES
from workflow_helpers import refused, tree_hash


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (112, 112), (90, 20, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_zip_member_over_the_limit_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    src = tmp_path / "cowley"
    (src / "images").mkdir(parents=True)
    (src / "responses_repeat_averaged").mkdir()
    with zipfile.ZipFile(src / "images" / "images_s1.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("image0001.jpg", _jpeg())
        z.writestr("image0002.jpg", bytes(MAX_IMAGE_FILE_BYTES + 1))  # zeros: a few kB compressed
    np.save(src / "responses_repeat_averaged" / "responses_s1.npy", np.ones((3, 2)))
    assert (src / "images" / "images_s1.zip").stat().st_size < 1 << 20
    read = []
    real_read = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda self, name, *a: read.append(name) or real_read(self, name, *a))
    before = tree_hash(tmp_path)
    refused(["import", "cowley-v4", str(src), str(tmp_path / "out")], capsys, "image0002.jpg",
            "refused before reading it", "MAX_IMAGE_FILE_BYTES")
    assert read == ["image0001.jpg"]
    assert tree_hash(tmp_path) == before and not (tmp_path / "out").exists()


def test_a_tar_member_over_the_limit_is_refused(tmp_path, capsys):
    with tarfile.open(tmp_path / "set.tar.gz", "w:gz") as tar:
        for name, data in (("cats/0.jpg", _jpeg()), ("dogs/0.jpg", bytes(MAX_IMAGE_FILE_BYTES + 1))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    refused(["import", "image-folder", str(tmp_path / "set.tar.gz"), str(tmp_path / "set.nc")], capsys,
            "dogs/0.jpg", "refused before reading it")
    assert not (tmp_path / "set.nc").exists()


def test_a_netcdf_declaring_a_huge_dimension_is_refused_before_allocating(tmp_path, capsys):
    huge = tmp_path / "features.nc"
    with netCDF4.Dataset(huge, "w") as ds:  # 10^9 float64 declared, 10 written: a few kB on disk
        ds.createDimension("presentation", 10**9)
        ds.createVariable("x", "f8", ("presentation",), chunksizes=(1024,))[0:10] = np.arange(10)
    assert huge.stat().st_size < 1 << 20 and 8 * 10**9 > MAX_NETCDF_BYTES
    (tmp_path / "recordings.nc").write_bytes(b"unused")
    refused(["score", "--features", str(huge), "--recordings", str(tmp_path / "recordings.nc"),
             "--out", str(tmp_path / "s.nc")], capsys, huge, "presentation=1000000000", "refused before reading it")
    assert not (tmp_path / "s.nc").exists()


def _damaged_chunk(path):
    """A compressed netCDF whose header is intact but whose middle bytes (a data chunk) are not."""
    da = xr.DataArray(np.random.default_rng(0).random((400, 300)), dims=("presentation", "neuroid"), name="x")
    da.to_netcdf(path, engine="netcdf4", encoding={"x": {"zlib": True, "chunksizes": (50, 300)}})
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 2000] = bytes(b ^ 0x55 for b in data[middle:middle + 2000])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["chunk", "garbage", "truncated"])
def test_a_damaged_netcdf_is_named_not_an_hdf_error_traceback(damage, tmp_path, capsys):
    path = tmp_path / "recordings.nc"
    if damage == "chunk":
        _damaged_chunk(path)
    elif damage == "garbage":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + np.random.default_rng(0).bytes(5000))
    else:
        xr.DataArray(np.ones((400, 300)), dims=("presentation", "neuroid"), name="x").to_netcdf(path)
        path.write_bytes(path.read_bytes()[:100_000])
    refused(["score-rdms", "--features", str(path), "--rdms", str(path), "--out", str(tmp_path / "s.nc")],
            capsys, path, "not a readable netCDF")
    assert not (tmp_path / "s.nc").exists()
