"""Real Kalfas & Vogels IT recordings imported into a temporary folder, a features file over
the same 64 shapes, and the command line run on them: shared by test_alignment and test_ids."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from goaldriven import cli
from goaldriven.data.importers import import_kalfas_it
from goaldriven.core.io import open_netcdf, write_netcdf
from goaldriven.data.assemblies import load_assembly

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GOALDRIVEN_SHARED_DATA", REPO.parent / "shared" / "data"))
KALFAS = DATA / "kalfas2017_it"
LAYERS = ("conv", "fc")


@pytest.fixture(scope="module")
def kalfas(tmp_path_factory):
    """The real assembly and a features file of two 'layers' over its 64 shapes (a noisy linear
    read-out of the recordings, so the scores are not noise), rows in a different order."""
    root = tmp_path_factory.mktemp("kalfas")
    import_kalfas_it(KALFAS, root / "kalfas")
    assembly = load_assembly(root / "kalfas" / "assembly.nc")
    rng = np.random.default_rng(0)
    Y = assembly.values
    X = np.concatenate([Y @ rng.normal(size=(Y.shape[1], 20)) + 5 * rng.normal(size=(64, 20)),
                        rng.normal(size=(64, 12))], axis=1)
    order = rng.permutation(64)
    ids = assembly["stimulus_id"].values
    feats = xr.DataArray(X[order], dims=("presentation", "neuroid"), name="features",
                         coords={"stimulus_id": ("presentation", ids[order]),
                                 "shape_group": ("presentation", assembly["shape_group"].values[order]),
                                 "layer": ("neuroid", ["conv"] * 20 + ["fc"] * 12)},
                         attrs={"model": "toy/supervised_seed0", "layers": ",".join(LAYERS)})
    write_netcdf(feats, root / "features.nc")
    return root


def digest(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def score(tmp_path, features, recordings, capsys=None, code=0):
    out = tmp_path / "scores.nc"
    rc = cli.main(["score", "--features", str(features), "--recordings", str(recordings), "--out", str(out),
                   "--splits", "4"])
    err = capsys.readouterr().err if capsys else ""
    assert rc == code, err
    return open_netcdf(out, kind="dataset") if code == 0 else err


def refused(tmp_path, capsys, features, recordings, *names):
    before = {p: digest(p) for p in (Path(features), Path(recordings))}
    err = score(tmp_path, features, recordings, capsys, code=2)
    assert err.startswith("goaldriven score: error:") and err.count("\n") == 1, err
    for name in names:
        assert str(name) in err, err
    assert {p: digest(p) for p in before} == before
    assert not (tmp_path / "scores.nc").exists()
    return err


