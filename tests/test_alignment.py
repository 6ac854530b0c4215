"""Rows are paired by stimulus_id everywhere, and ambiguous ids are refused (issue #14, items 2, 3, 8).

Real Kalfas & Vogels IT recordings, imported into tmp_path, scored against a features file whose
rows carry the same stimulus ids; every refusal is checked through the command line: exit code,
a one-line message naming the file and the id or field, and inputs left unchanged.
"""

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from goaldriven import cli
from goaldriven.compare import bootstrap_rdm_comparison, compare_rdms, neural_predictivity, rdm, rdm_noise_ceiling
from goaldriven.importers import import_kalfas_it
from goaldriven.io import open_netcdf, write_netcdf
from goaldriven.neural import load_assembly
from goaldriven.stimuli import load_stimulus_set, save_stimulus_set_csv

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


# --- item 2: rows paired by id, folds a function of the ids ------------------------------------

def test_reordering_the_recordings_rows_leaves_every_score_unchanged(kalfas, tmp_path):
    first = score(tmp_path, kalfas / "features.nc", kalfas / "kalfas" / "assembly.nc")
    assembly = open_netcdf(kalfas / "kalfas" / "assembly.nc")
    shuffled = assembly.isel(presentation=np.random.default_rng(1).permutation(64))
    write_netcdf(shuffled, tmp_path / "shuffled.nc")
    second = score(tmp_path, kalfas / "features.nc", tmp_path / "shuffled.nc")
    assert np.isfinite(first["r"].values).all() and np.nanmedian(first["r"].values[0]) > 0.2
    np.testing.assert_allclose(second["r"].values, first["r"].values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(second["rsa"].values, first["rsa"].values, rtol=0, atol=1e-10)


def test_folds_depend_on_the_stimulus_ids_not_the_row_order():
    rng = np.random.default_rng(0)
    n = 120
    ids = np.array([f"img{i:03d}" for i in range(n)])
    X = rng.normal(size=(n, 15))
    Y = X @ rng.normal(size=(15, 6)) + rng.normal(size=(n, 6))
    feats = xr.DataArray(X, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", ids)})
    resp = xr.DataArray(Y, dims=("presentation", "neuroid"), coords={"stimulus_id": ("presentation", ids),
                                                                     "neuroid_id": ("neuroid", list("abcdef"))})
    a = neural_predictivity(feats, resp, splits=5, dtype="float64")["r"].values
    perm = rng.permutation(n)
    b = neural_predictivity(feats.isel(presentation=perm[::-1]), resp.isel(presentation=perm), splits=5,
                            dtype="float64")["r"].values
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-10)


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
    from goaldriven.io import InputError
    with pytest.raises(InputError, match=rf"set.csv: duplicate stimulus_id values \(e.g. '{table[1].split(',')[0]}'"):
        load_stimulus_set(tmp_path / "set.csv")


def test_features_file_without_its_layers_attribute_is_a_one_line_error(kalfas, tmp_path, capsys):
    feats = open_netcdf(kalfas / "features.nc")
    del feats.attrs["layers"]
    write_netcdf(feats, tmp_path / "nolayers.nc")
    refused(tmp_path, capsys, tmp_path / "nolayers.nc", kalfas / "kalfas" / "assembly.nc",
            tmp_path / "nolayers.nc", "'layers' attribute")


# --- item 8: constant feature rows ------------------------------------------------------------

def test_constant_rows_have_undefined_distances_left_out_of_comparisons():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 8))
    X[4] = 0.0  # a stimulus to which the layer does not respond at all
    ids = np.array([f"s{i}" for i in range(12)])
    with pytest.warns(RuntimeWarning, match=r"layer3: 1 stimuli with constant .*'s4'"):
        with_const = rdm(X, ids=ids, source="layer3")
    assert np.isnan(with_const[4, np.arange(12) != 4]).all() and with_const[4, 4] == 0
    assert np.isfinite(np.delete(np.delete(with_const, 4, 0), 4, 1)).all()
    other = rdm(rng.normal(size=(12, 8)))
    keep = np.arange(12) != 4
    expected = compare_rdms(with_const[np.ix_(keep, keep)], other[np.ix_(keep, keep)])
    assert compare_rdms(with_const, other) == pytest.approx(expected, abs=1e-12)
    assert compare_rdms(other, with_const, method="kendall_tau_a") == pytest.approx(
        compare_rdms(other[np.ix_(keep, keep)], with_const[np.ix_(keep, keep)], method="kendall_tau_a"), abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NaN pairs are dropped, not averaged into warnings or NaN
        boot = bootstrap_rdm_comparison(with_const, other, n_boot=20)
        lower, upper = rdm_noise_ceiling(np.stack([with_const, other, (with_const + other) / 2]))
    assert np.isfinite(boot).all() and np.isfinite([lower, upper]).all()
