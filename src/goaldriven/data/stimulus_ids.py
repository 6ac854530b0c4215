"""Pairing rows of two arrays of stimuli through their ``stimulus_id``s, never by row order.

Every place that combines two arrays over stimuli (features with recordings, two seeds'
features, a layer with an RDM) goes through :func:`align_by_stimulus_id` or :func:`rows_of`,
so a file whose rows were reordered gives the same numbers, and a duplicated or missing id is
an error naming the file, never a silent last-one-wins.
"""

from __future__ import annotations

import zlib

import numpy as np
import xarray as xr

from ..core.io import InputError

DIM = "presentation"


def _py(value):
    """A numpy scalar as its plain Python value, so messages read 's1' rather than np.str_('s1')."""
    return value.item() if isinstance(value, np.generic) else value


def _ids(da: xr.DataArray, source: str) -> np.ndarray:
    if "stimulus_id" not in da.coords:
        raise InputError(f"{source}: no stimulus_id coordinate")
    return np.asarray(da["stimulus_id"].values)


def check_unique(ids, source: str) -> None:
    """Refuse duplicate ids, naming the file and one duplicated id."""
    ids = np.asarray(ids)
    values, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dup = values[counts > 1]
        raise InputError(f"{source}: {len(dup)} duplicated stimulus_id (e.g. {_py(dup[0])!r}); "
                         "each stimulus must appear once (average repetitions first)")


def canonical_order(ids) -> np.ndarray:
    """Row order that sorts ``ids`` (as text): put rows in it before drawing cross-validation
    folds, and the folds become a function of the stimulus ids rather than of the file's row order."""
    return np.argsort(np.asarray(ids).astype(str), kind="stable")


def rows_of(wanted, have, have_source: str, wanted_source: str) -> np.ndarray:
    """Row indices into ``have`` such that ``have[rows] == wanted``; both free of duplicates and
    every wanted id present in ``have``."""
    wanted, have = np.asarray(wanted), np.asarray(have)
    check_unique(have, have_source)
    check_unique(wanted, wanted_source)
    position = {s: i for i, s in enumerate(have.tolist())}
    missing = [s for s in wanted.tolist() if s not in position]
    if missing:
        raise InputError(f"{have_source}: lacks {len(missing)} stimuli of {wanted_source} (e.g. {missing[0]!r})")
    return np.array([position[s] for s in wanted.tolist()], dtype=np.int64)


def _shared_metadata(a: xr.DataArray, b: xr.DataArray, dim: str) -> list[str]:
    def on_dim(da):
        return {k for k, v in da.coords.items() if v.dims == (dim,) and k != "stimulus_id"}
    return sorted(on_dim(a) & on_dim(b))


def check_metadata(a: xr.DataArray, b: xr.DataArray, a_source: str, b_source: str, dim: str = DIM) -> None:
    """Where two row-aligned arrays share a coordinate over stimuli (``object_name``,
    ``category_name``, ...), its values must agree; the error names the first mismatch."""
    ids = _ids(a, a_source)
    for name in _shared_metadata(a, b, dim):
        va, vb = np.asarray(a[name].values), np.asarray(b[name].values)
        if va.dtype.kind in "iufc" and vb.dtype.kind in "iufc":  # 1 and 1.0 agree
            same = np.isclose(va, vb, equal_nan=True)
        else:
            same = va.astype(str) == vb.astype(str)
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            raise InputError(f"{b_source}: {name} of stimulus {_py(ids[i])!r} is {_py(vb[i])!r}, "
                             f"but {_py(va[i])!r} in {a_source}")


def align_by_stimulus_id(a: xr.DataArray, b: xr.DataArray, a_source: str = "first array",
                         b_source: str = "second array", dim: str = DIM, same_set: bool = True):
    """``(a, b)`` with ``b``'s rows reordered to ``a``'s stimulus order.

    ``same_set=True``: both must hold the same stimuli. ``False``: ``b`` must hold every
    stimulus of ``a`` (extra rows of ``b`` are dropped). Shared metadata must agree.
    """
    ids_a, ids_b = _ids(a, a_source), _ids(b, b_source)
    rows = rows_of(ids_a, ids_b, b_source, a_source)
    if same_set and len(ids_b) != len(ids_a):
        extra = sorted(set(ids_b.tolist()) - set(ids_a.tolist()))
        raise InputError(f"{b_source}: {len(extra)} stimuli not in {a_source} (e.g. {_py(extra[0])!r})")
    b = b.isel({dim: rows})
    check_metadata(a, b, a_source, b_source, dim)
    return a, b


def _coords_only(da: xr.DataArray, dim: str) -> xr.DataArray:
    """``da``'s coordinates along ``dim`` without its values (nothing large is copied)."""
    return xr.DataArray(np.zeros(da.sizes[dim]), dims=(dim,),
                        coords={k: (dim, v.values) for k, v in da.coords.items() if v.dims == (dim,)})


def rows_by_stimulus_id(a: xr.DataArray, b: xr.DataArray, a_source: str, b_source: str, dim: str = DIM,
                        same_set: bool = False) -> np.ndarray:
    """Row indices into ``b`` for ``a``'s stimuli in ``a``'s order, with every check of
    :func:`align_by_stimulus_id` (duplicates, missing ids, shared metadata) but without copying
    ``b``'s values: for large arrays (a features file) that are then indexed layer by layer."""
    a_c, b_c = _coords_only(a, dim), _coords_only(b, dim)
    rows = rows_of(_ids(a_c, a_source), _ids(b_c, b_source), b_source, a_source)
    align_by_stimulus_id(a_c, b_c, a_source, b_source, dim=dim, same_set=same_set)
    return rows


def image_halves(ids) -> np.ndarray:
    """0/1 half of every stimulus: stimuli in the order of a hash of their id, alternately; so
    the split depends on the ids only, not on their row order (held-out layer choice, retest)."""
    ids = np.asarray(ids).astype(str)
    half = np.zeros(len(ids), int)
    half[np.argsort([zlib.crc32(s.encode()) for s in ids], kind="stable")[1::2]] = 1
    return half
