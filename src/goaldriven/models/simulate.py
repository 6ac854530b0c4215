"""SIMULATED recordings of the default experiment, from a surrogate network (never a candidate).

They are a check of the pipeline with a known ground truth (which surrogate layer drives which
"area"), not data from an animal: every pattern built in here (V4 = an intermediate stage,
IT = the top stage, a task-trained surrogate) is found again by construction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .features import extract
from ..data.stimulus_sets import load_stimulus_set


def simulate_recordings(weights, stimuli_path, n_v4: int = 128, n_it: int = 168,
                        v4_layer: str = "stage3", it_layer: str = "stage5", n_reps: int = 10,
                        max_rate: float = 12.0, seed: int = 0) -> xr.DataArray:
    """SIMULATED V4 and IT recordings from a surrogate network (never a candidate model).

    "V4" sites are sparse spatial read-outs (a Gaussian receptive field on a few channels)
    of the surrogate's intermediate layer, "IT" sites sparse read-outs of its pooled top
    layer; both go through a softplus and Poisson trial noise. The ground truth (which layer
    drives which area) is stored in the attributes.
    """
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
