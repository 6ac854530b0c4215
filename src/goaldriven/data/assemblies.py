"""Neural assemblies (Brain-Score/BrainIO style): their layout, validation and reading.

The simulated recordings of the default experiment are made in :mod:`goaldriven.simulate`.

An assembly is an ``xarray.DataArray`` with dims ``presentation`` x ``neuroid`` [x ``time_bin``];
``presentation`` carries ``stimulus_id`` (and ``repetition`` where it holds single trials),
``neuroid`` carries ``neuroid_id`` and ``region``. The global attributes ``identifier`` and
``stimulus_set_identifier`` name the assembly and its stimulus set, as BrainIO requires.

On disk the coordinates are plain (netCDF cannot hold a pandas MultiIndex), so plain
``xarray.open_dataarray`` opens our files; :func:`load_assembly` gathers the coordinates of each
dimension into a MultiIndex, as BrainIO does, so files written by BrainIO and by us load alike.
:func:`plain_coords` undoes that for code that assigns coordinates.

Merged sessions: an assembly may merge recording sessions that recorded different neurons on
different images. Then ``presentation`` carries ``session`` and ``neuroid`` carries
``neuroid_session`` (xarray needs distinct names), and the data are NaN wherever the two differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..core.io import InputError, open_netcdf, write_netcdf
from .stimulus_ids import canonical_order

DIMS = ("presentation", "neuroid", "time_bin")  # canonical order; time_bin is optional
REQUIRED = {"presentation": ("stimulus_id",), "neuroid": ("neuroid_id", "region")}
REQUIRED_ATTRS = ("identifier", "stimulus_set_identifier")
# The session of each presentation and of each neuroid, for assemblies that merge sessions.
SESSION_COORDS = {"presentation": "session", "neuroid": "neuroid_session"}


def save_assembly(assembly: xr.DataArray, path) -> None:
    """Validate and write an assembly as netCDF-4 that plain xarray (and BrainIO) opens.

    MultiIndexes are reset to plain coordinates, as BrainIO's ``write_netcdf`` does.
    """
    missing = [a for a in REQUIRED_ATTRS if not assembly.attrs.get(a)]
    if missing:
        raise InputError(f"{path}: the assembly needs the attribute(s) {missing} (BrainIO requires "
                         "an identifier and the identifier of its stimulus set)")
    assembly = plain_coords(assembly)
    validate_assembly(assembly, path)
    write_netcdf(assembly, path)


def load_assembly(path, stimuli=None) -> xr.DataArray:
    """Load and validate an assembly, dims in canonical order, coords gathered per dim.

    ``stimuli`` (a stimulus set or anything :func:`goaldriven.stimulus_sets.load_stimulus_set`
    reads) additionally checks that every ``stimulus_id`` is in that set.
    Errors are :class:`~goaldriven.io.InputError` naming the file and the problem.
    """
    da = plain_coords(open_netcdf(path))
    validate_assembly(da, path, stimuli=stimuli)
    return gather_indexes(da.transpose(*[d for d in DIMS if d in da.dims]))


def plain_coords(da: xr.DataArray) -> xr.DataArray:
    """The assembly with every MultiIndex reset to plain (assignable) coordinates."""
    multi = [d for d in da.dims if isinstance(da.indexes.get(d), pd.MultiIndex)]
    return da.reset_index(multi) if multi else da


def gather_indexes(da: xr.DataArray) -> xr.DataArray:
    """Make the 1-D coords along each dimension the levels of one MultiIndex (as BrainIO does).

    Dimensions that already have an index, or no coordinates, are left as they are.
    """
    for dim in da.dims:
        if dim in da.indexes:
            continue
        names = [n for n, c in da.coords.items() if c.dims == (dim,)]
        if names:
            index = pd.MultiIndex.from_arrays([da[n].values for n in names], names=names)
            da = da.drop_vars(names).assign_coords(xr.Coordinates.from_pandas_multiindex(index, dim))
    return da


def validate_assembly(da: xr.DataArray, path="<assembly>", stimuli=None) -> None:
    """Raise :class:`InputError` (naming ``path``) if ``da`` is not a valid assembly."""
    da = plain_coords(da)
    _check_layout(da, path)
    _check_unique_ids(da, path)
    _check_values(da, path)
    if stimuli is not None:
        _check_stimuli(da, path, stimuli)


def _check_layout(da, path) -> None:
    for dim, coords in REQUIRED.items():
        if dim not in da.dims:
            raise InputError(f"{path}: missing dimension {dim!r} (has {list(da.dims)})")
        for c in coords:
            if c not in da.coords or da[c].dims != (dim,):
                raise InputError(f"{path}: missing coordinate {c!r} along {dim!r}")
    extra = set(da.dims) - set(DIMS)
    if extra:
        raise InputError(f"{path}: unexpected dimensions {sorted(extra)} (allowed: {list(DIMS)})")
    empty = [d for d in da.dims if da.sizes[d] == 0]
    if empty:  # nothing to score: it would give empty tables, not an error, much later
        raise InputError(f"{path}: the assembly is empty: 0 {empty[0]} entries "
                         f"({' x '.join(f'{d} {n}' for d, n in da.sizes.items())})")
    present = [name for dim, name in SESSION_COORDS.items() if name in da.coords]
    if len(present) == 1:
        raise InputError(f"{path}: a merged-session assembly needs both {SESSION_COORDS['presentation']!r} "
                         f"along presentation and {SESSION_COORDS['neuroid']!r} along neuroid; has only "
                         f"{present[0]!r}")
    for dim, name in SESSION_COORDS.items():
        if name in da.coords and da[name].dims != (dim,):
            raise InputError(f"{path}: coordinate {name!r} must lie along {dim!r}, not {da[name].dims}")
    if len(present) == 2:
        on_p = set(da[SESSION_COORDS["presentation"]].values.tolist())
        on_n = set(da[SESSION_COORDS["neuroid"]].values.tolist())
        if on_p != on_n:
            raise InputError(f"{path}: sessions differ between presentations and neuroids: only on "
                             f"presentations {sorted(on_p - on_n)}, only on neuroids {sorted(on_n - on_p)}")


def _check_unique_ids(da, path) -> None:
    ids = pd.Series(da["neuroid_id"].values)
    if ids.duplicated().any():
        raise InputError(f"{path}: duplicate neuroid_id values (e.g. {_py(ids[ids.duplicated()].iloc[0])!r})")
    # One presentation per stimulus, repetition (trials) and session (merged sessions).
    keys = [k for k in ("stimulus_id", "repetition", SESSION_COORDS["presentation"]) if k in da.coords]
    table = pd.DataFrame({k: da[k].values for k in keys})
    dup = table.duplicated()
    if dup.any():
        first = table[dup].iloc[0].to_dict()
        hint = "" if "repetition" in keys else " (single trials need a 'repetition' coordinate)"
        raise InputError(f"{path}: duplicate presentations: {int(dup.sum())} share "
                         f"{'/'.join(keys)} with another, e.g. {first}{hint}")


def _check_values(da, path) -> None:
    values = da.transpose(*[d for d in DIMS if d in da.dims]).values
    if not np.issubdtype(values.dtype, np.number):
        raise InputError(f"{path}: data must be numeric, not {values.dtype}")
    if values.ndim == 2:
        values = values[:, :, None]
    if np.isinf(values).any():
        p, n = np.argwhere(np.isinf(values).any(-1))[0]
        raise InputError(f"{path}: infinite values in the data (e.g. {_where(da, p, n)})")
    nan = np.isnan(values)
    if not nan.any():
        return
    bad = nan.any(-1) & ~_nan_allowed(da, nan)
    if bad.any():
        p, n = np.argwhere(bad)[0]
        raise InputError(f"{path}: {int(bad.sum())} NaN entries where data are required (e.g. "
                         f"{_where(da, p, n)}); NaN is allowed only for a whole missing trial "
                         "(a NaN-padded repetition) or outside a merged session's own block")


def _nan_allowed(da, nan: np.ndarray) -> np.ndarray:
    """(presentation, neuroid) mask of entries that may be NaN.

    Outside its own block (presentation and neuroid from different sessions) an entry is
    unrecorded by design. Inside, only a padded repetition may be NaN: a trial that does not
    exist is NaN for every neuroid of its session and every time bin.
    """
    n_pres, n_neur = nan.shape[:2]
    if SESSION_COORDS["presentation"] in da.coords:
        p_sess = da[SESSION_COORDS["presentation"]].values
        n_sess = da[SESSION_COORDS["neuroid"]].values
        in_block = p_sess[:, None] == n_sess[None, :]
    else:
        in_block = np.ones((n_pres, n_neur), bool)
    if "repetition" not in da.coords:
        return ~in_block
    all_nan = nan.all(-1)
    missing_trial = (all_nan | ~in_block).all(axis=1)  # every in-block entry of the row is NaN
    return ~in_block | missing_trial[:, None]


def _where(da, p: int, n: int) -> str:
    where = f"stimulus_id {_py(da['stimulus_id'].values[p])!r}, neuroid_id {_py(da['neuroid_id'].values[n])!r}"
    if "repetition" in da.coords:
        where += f", repetition {_py(da['repetition'].values[p])}"
    return where


def _py(value):
    """A numpy scalar as the plain Python value, so messages read 'a', not np.str_('a')."""
    return value.item() if isinstance(value, np.generic) else value


def _check_stimuli(da, path, stimuli) -> None:
    if not isinstance(stimuli, xr.DataArray):
        from .stimulus_sets import load_stimulus_set

        stimuli = load_stimulus_set(stimuli)
    known = set(stimuli["stimulus_id"].values.tolist())
    ids = pd.unique(da["stimulus_id"].values)
    unknown = [s for s in ids if s not in known]
    if unknown:
        name = stimuli.attrs.get("identifier") or "given"
        raise InputError(f"{path}: {len(unknown)} of {len(ids)} stimulus_ids are not in the stimulus set "
                         f"{name!r} (e.g. {_py(unknown[0])!r})")


def average_repetitions(assembly: xr.DataArray) -> xr.DataArray:
    """Mean response per stimulus (over repetitions and time bins), presentation x neuroid.

    Keeps the first-seen order of stimuli and their per-stimulus metadata coords; NaN (padded
    trials, other sessions' blocks) is skipped, so an entry is NaN only if it has no data.
    """
    assembly = plain_coords(assembly)
    da = assembly.mean("time_bin") if "time_bin" in assembly.dims else assembly
    ids = da["stimulus_id"].values
    order, first = np.unique(ids, return_index=True)
    order = order[np.argsort(first)]
    if len(order) == len(ids) and da.dtype.kind == "f":  # one presentation per stimulus: its own mean (no slow groupby)
        mean = da.isel(presentation=np.sort(first)).transpose("presentation", "neuroid")
        mean = mean.drop_vars([c for c in mean.coords if mean[c].dims == ("presentation",)])
        mean = mean.assign_coords(stimulus_id=("presentation", order))
        return _with_presentation_coords(mean, da, np.sort(first), assembly)
    mean = da.groupby("stimulus_id").mean("presentation", skipna=True).sel(stimulus_id=order)
    mean = mean.rename(stimulus_id="presentation").transpose("presentation", "neuroid")
    mean = mean.assign_coords(stimulus_id=("presentation", order)).drop_vars("presentation")
    return _with_presentation_coords(mean, da, np.sort(first), assembly)


def _with_presentation_coords(mean: xr.DataArray, da: xr.DataArray, firsts: np.ndarray, assembly) -> xr.DataArray:
    """Each stimulus's metadata (its first presentation's) on the means, and the name."""
    skip = {"stimulus_id", "repetition"}
    for name, coord in da.coords.items():
        if coord.dims == ("presentation",) and name not in skip:
            mean = mean.assign_coords({name: ("presentation", coord.values[firsts])})
    return mean.rename(assembly.name or "responses")


def canonical_presentations(assembly: xr.DataArray) -> xr.DataArray:
    """The assembly with its presentations sorted by ``stimulus_id`` (as text), then repetition
    and session: every seeded split drawn on it is then a function of the ids, not of the
    file's row order (and every score the same, bit for bit, for any row order)."""
    assembly = plain_coords(assembly)
    keys = {"stimulus_id": assembly["stimulus_id"].values.astype(str)}
    for name in ("repetition", SESSION_COORDS["presentation"]):
        if name in assembly.coords:
            keys[name] = assembly[name].values
    order = pd.DataFrame(keys).sort_values(list(keys), kind="stable").index.to_numpy()
    return assembly.isel(presentation=order)


def trials_array(assembly: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """(n_reps, n_stimuli, n_neuroids) single-trial array, NaN-padded, and the stimulus ids,
    in the canonical order (sorted as text; goaldriven.data.stimulus_ids.canonical_order), so
    that the seeded splits of the ceilings are drawn on the same array whatever the row order."""
    assembly = plain_coords(assembly)
    if "repetition" not in assembly.coords:
        raise InputError("assembly has no 'repetition' coordinate: single trials are needed for ceilings")
    da = assembly.mean("time_bin") if "time_bin" in assembly.dims else assembly
    ids = da["stimulus_id"].values
    uniq, inv = np.unique(ids, return_inverse=True)
    order = canonical_order(uniq)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    stim = rank[inv]
    reps = da["repetition"].values
    rep_index = np.unique(reps, return_inverse=True)[1]
    out = np.full((rep_index.max() + 1, len(uniq), da.sizes["neuroid"]), np.nan)
    out[rep_index, stim] = da.transpose("presentation", "neuroid").values
    return out, uniq[order]


RDM_DIMS = ("source", "stimulus_a", "stimulus_b")


def is_rdm_assembly(da: xr.DataArray) -> bool:
    return da.dims == RDM_DIMS


def rdm_parts(da: xr.DataArray, path="<rdms>") -> tuple[np.ndarray, np.ndarray]:
    """(stimulus ids, mask of the neural sources) of an RDM assembly (source x stimulus_a x
    stimulus_b); sources whose ``kind`` is not "neural" are reference models."""
    if not is_rdm_assembly(da):
        raise InputError(f"{path}: expected an RDM assembly {RDM_DIMS}, got {da.dims}")
    ids = da["stimulus_id_a"].values if "stimulus_id_a" in da.coords else da["stimulus_a"].values
    kind = da["kind"].values if "kind" in da.coords else np.full(da.sizes["source"], "neural")
    return ids, kind == "neural"

