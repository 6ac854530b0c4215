"""Rows of two arrays of stimuli are paired through stimulus_id, never by position."""

import numpy as np
import pytest
import xarray as xr

from goaldriven.core.io import InputError
from goaldriven.data.stimulus_ids import align_by_stimulus_id, canonical_order, check_unique, rows_by_stimulus_id, rows_of


def _array(ids, objects=None, seed=0):
    ids = np.asarray(ids)
    values = np.random.default_rng(seed).normal(size=(len(ids), 3))
    coords = {"stimulus_id": ("presentation", ids)}
    if objects is not None:
        coords["object_name"] = ("presentation", np.asarray(objects))
    return xr.DataArray(values, dims=("presentation", "neuroid"), coords=coords)


def test_a_permuted_copy_is_put_back_in_order():
    a = _array([f"s{i}" for i in range(20)], [f"o{i // 4}" for i in range(20)])
    order = np.random.default_rng(1).permutation(20)
    b = a.isel(presentation=order)
    _, b_aligned = align_by_stimulus_id(a, b, "a.nc", "b.nc")
    np.testing.assert_array_equal(b_aligned.values, a.values)
    np.testing.assert_array_equal(b_aligned["stimulus_id"].values, a["stimulus_id"].values)


def test_duplicates_are_refused_naming_the_file_and_an_id():
    with pytest.raises(InputError, match=r"feats\.nc: 1 duplicated stimulus_id \(e\.g\. 's1'\)"):
        check_unique(np.array(["s0", "s1", "s1"]), "feats.nc")
    a, b = _array(["s0", "s1"]), _array(["s0", "s1", "s1"])
    with pytest.raises(InputError, match="b.nc: 1 duplicated"):
        align_by_stimulus_id(a, b, "a.nc", "b.nc")


def test_missing_and_extra_stimuli_are_named():
    a, b = _array(["s0", "s1", "s2"]), _array(["s0", "s1"])
    with pytest.raises(InputError, match=r"b.nc: lacks 1 stimuli of a.nc \(e.g. 's2'\)"):
        align_by_stimulus_id(a, b, "a.nc", "b.nc")
    with pytest.raises(InputError, match=r"a.nc: 1 stimuli not in b.nc \(e.g. 's2'\)"):
        align_by_stimulus_id(b, a, "b.nc", "a.nc")
    _, sub = align_by_stimulus_id(b, a, "b.nc", "a.nc", same_set=False)
    assert list(sub["stimulus_id"].values) == ["s0", "s1"]


def test_shared_metadata_must_agree():
    a = _array(["s0", "s1"], ["car", "dog"])
    b = _array(["s1", "s0"], ["dog", "cat"])
    with pytest.raises(InputError, match=r"b.nc: object_name of stimulus 's0' is 'cat', but 'car' in a.nc"):
        align_by_stimulus_id(a, b, "a.nc", "b.nc")


def test_rows_of_indexes_have_into_wanted_order():
    rows = rows_of(["c", "a"], ["a", "b", "c"], "have.nc", "wanted.nc")
    assert rows.tolist() == [2, 0]


def test_canonical_order_depends_only_on_the_ids():
    ids = np.array(["c", "a", "b", "d"])
    perm = np.array([2, 0, 3, 1])
    assert list(ids[canonical_order(ids)]) == ["a", "b", "c", "d"]
    assert list(ids[perm][canonical_order(ids[perm])]) == ["a", "b", "c", "d"]


def test_rows_by_stimulus_id_checks_like_align_without_copying_values():
    a = _array(["s1", "s2", "s3"], objects=["x", "y", "z"])
    b = _array(["s3", "s0", "s1", "s2"], objects=["z", "w", "x", "y"])
    rows = rows_by_stimulus_id(a, b, "a.nc", "b.nc")
    assert list(b["stimulus_id"].values[rows]) == ["s1", "s2", "s3"]
    with pytest.raises(InputError, match=r"b.nc: object_name of stimulus 's2' is 'q', but 'y' in a.nc"):
        rows_by_stimulus_id(a, _array(["s1", "s2", "s3"], objects=["x", "q", "z"]), "a.nc", "b.nc")
    with pytest.raises(InputError, match=r"b.nc: 1 duplicated stimulus_id \(e.g. 's1'\)"):
        rows_by_stimulus_id(a, _array(["s1", "s1", "s2", "s3"]), "a.nc", "b.nc")
