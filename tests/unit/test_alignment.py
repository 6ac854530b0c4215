"""Rows are paired by stimulus_id everywhere (issue #14, items 2 and 8): reordering a file's rows
changes no score, and constant feature rows are undefined, not "identical to everything"."""

import warnings

import numpy as np
import pytest
import xarray as xr

from goaldriven.compare.rsa import bootstrap_rdm_comparison

from goaldriven.compare.rsa import compare_rdms

from goaldriven.compare.methods import neural_predictivity

from goaldriven.compare.rsa import rdm

from goaldriven.compare.rsa import rdm_noise_ceiling
from goaldriven.core.io import open_netcdf, write_netcdf

from kalfas_scoring import kalfas, score  # noqa: F401 (kalfas is a fixture)


# --- item 2: rows paired by id, folds a function of the ids ------------------------------------

@pytest.mark.real_data
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
