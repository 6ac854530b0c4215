"""Neural assemblies (Brain-Score/BrainIO style) and the simulated recordings of the default.

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

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .io import InputError, open_netcdf, write_netcdf

log = logging.getLogger(__name__)

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

    ``stimuli`` (a stimulus set or anything :func:`goaldriven.stimuli.load_stimulus_set`
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
        from .stimuli import load_stimulus_set

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
    mean = da.groupby("stimulus_id").mean("presentation", skipna=True).sel(stimulus_id=order)
    mean = mean.rename(stimulus_id="presentation").transpose("presentation", "neuroid")
    mean = mean.assign_coords(stimulus_id=("presentation", order)).drop_vars("presentation")
    skip = {"stimulus_id", "repetition"}
    firsts = np.sort(first)
    for name, coord in da.coords.items():
        if coord.dims == ("presentation",) and name not in skip:
            mean = mean.assign_coords({name: ("presentation", coord.values[firsts])})
    return mean.rename(assembly.name or "responses")


def trials_array(assembly: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """(n_reps, n_stimuli, n_neuroids) single-trial array, NaN-padded, and the stimulus ids."""
    assembly = plain_coords(assembly)
    if "repetition" not in assembly.coords:
        raise InputError("assembly has no 'repetition' coordinate: single trials are needed for ceilings")
    da = assembly.mean("time_bin") if "time_bin" in assembly.dims else assembly
    ids = da["stimulus_id"].values
    uniq, first, inv = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first)
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


# --- simulated recordings -------------------------------------------------------------

def simulate_recordings(weights, stimuli_path, n_v4: int = 128, n_it: int = 168,
                        v4_layer: str = "stage3", it_layer: str = "stage5", n_reps: int = 10,
                        max_rate: float = 12.0, seed: int = 0) -> xr.DataArray:
    """SIMULATED V4 and IT recordings from a surrogate network (never a candidate model).

    "V4" sites are sparse spatial read-outs (a Gaussian receptive field on a few channels)
    of the surrogate's intermediate layer, "IT" sites sparse read-outs of its pooled top
    layer; both go through a softplus and Poisson trial noise. The ground truth (which layer
    drives which area) is stored in the attributes.
    """
    from .features import extract
    from .stimuli import load_stimulus_set

    stimuli = load_stimulus_set(stimuli_path)
    acts = extract(weights, stimuli, layers=[v4_layer, it_layer], flatten=False)
    rng = np.random.default_rng(seed)
    v4 = _spatial_readout(acts[v4_layer], n_v4, rng)
    it = _spatial_readout(acts[it_layer], n_it, rng)
    drive = np.concatenate([v4, it], axis=1)
    drive = (drive - drive.mean(0)) / (drive.std(0) + 1e-8)
    gain = rng.uniform(0.5, 1.0, drive.shape[1])
    threshold = rng.uniform(-1.5, -0.5, drive.shape[1])
    peak = rng.uniform(0.3, 1.0, drive.shape[1]) * max_rate
    rates = peak * np.log1p(np.exp(gain * (drive - threshold))) / np.log1p(np.exp(gain * 2.5))
    trials = rng.poisson(rates, size=(n_reps,) + rates.shape).astype(np.float32)
    return _assemble(trials, rates, stimuli, n_v4, n_it, v4_layer, it_layer, weights, seed)


def _spatial_readout(act: np.ndarray, n_sites: int, rng) -> np.ndarray:
    """Sparse read-out: each site sums a few channels under a Gaussian spatial window."""
    if act.ndim == 2:  # pooled layer: no space, sparse channel read-out only
        act = act[:, :, None, None]
    n, c, h, w = act.shape
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, n_sites))
    for i in range(n_sites):
        cy, cx = rng.uniform(0.25, 0.75, 2) * (h - 1, w - 1)
        sigma = max(0.5, rng.uniform(0.06, 0.15) * h)  # small RFs: V4 is spatially precise
        window = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
        channels = rng.choice(c, size=min(c, 4), replace=False)
        weights = rng.normal(1.0, 0.5, len(channels))
        out[:, i] = np.einsum("nkhw,hw,k->n", act[:, channels], window / window.sum(), weights)
    return out


def _assemble(trials, rates, stimuli, n_v4, n_it, v4_layer, it_layer, weights, seed):
    n_reps, n_stim, n_sites = trials.shape
    rep = np.repeat(np.arange(n_reps), n_stim)
    stim = np.tile(np.arange(n_stim), n_reps)
    data = trials.reshape(n_reps * n_stim, n_sites)[:, :, None]
    pres = {"stimulus_id": ("presentation", stimuli["stimulus_id"].values[stim]),
            "repetition": ("presentation", rep)}
    for name in ("category_name", "object_name", "variation"):
        if name in stimuli.coords:
            pres[name] = ("presentation", stimuli[name].values[stim])
    region = np.array(["V4"] * n_v4 + ["IT"] * n_it)
    neur = {"neuroid_id": ("neuroid", [f"{r}_{i:03d}" for i, r in enumerate(region)]),
            "region": ("neuroid", region),
            "source_layer": ("neuroid", np.where(region == "V4", v4_layer, it_layer)),
            "true_rate_variance": ("neuroid", rates.var(0)),
            "true_rate_mean": ("neuroid", rates.mean(0))}
    da = xr.DataArray(data, dims=("presentation", "neuroid", "time_bin"),
                      coords={**pres, **neur, "time_bin_start": ("time_bin", [70]),
                              "time_bin_end": ("time_bin", [170])}, name="responses")
    da.attrs.update({
        "simulated": 1,
        "description": "SIMULATED recordings: Poisson spike counts (70-170 ms bin) of sparse "
                       "read-outs of a surrogate network; not data from an animal.",
        "identifier": f"goaldriven.simulated.seed{seed}",
        "stimulus_set_identifier": stimuli.attrs.get("identifier", ""),
        "surrogate_weights": str(Path(weights).as_posix()),
        "ground_truth_V4": v4_layer, "ground_truth_IT": it_layer, "seed": seed,
    })
    return da
