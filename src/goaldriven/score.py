"""Score one model's layers against one set of recordings (files in, file out).

Per layer: cross-validated ridge predictivity of every site (Pearson r on held-out images),
ceiling-normalised explained variance (split-half, Spearman-Brown), and RSA of the layer's
RDM with each area's RDM.
"""

from __future__ import annotations

import logging

import numpy as np
import xarray as xr

from .compare import compare_rdms, explained_variance, neural_predictivity, rdm, split_half_reliability
from .features import layer_matrix, layer_order
from .io import open_netcdf
from .neural import average_repetitions, load_assembly, trials_array

log = logging.getLogger(__name__)


def score_model(features_path, recordings_path, splits: int = 10, seed: int = 0) -> xr.Dataset:
    feats = open_netcdf(features_path)
    recordings = load_assembly(recordings_path)
    responses = average_repetitions(recordings)
    trials, trial_ids = trials_array(recordings)  # same stimulus order as `responses`
    ceiling = split_half_reliability(trials, seed=seed)
    # Align features to the recordings' stimulus order once, for the RDMs.
    position = {s: i for i, s in enumerate(feats["stimulus_id"].values)}
    missing = [s for s in responses["stimulus_id"].values if s not in position]
    if missing:
        raise ValueError(f"{features_path}: lacks {len(missing)} stimuli of {recordings_path} (e.g. {missing[0]})")
    rows = np.array([position[s] for s in responses["stimulus_id"].values])
    regions = list(dict.fromkeys(responses["region"].values.tolist()))
    area_rdms = {g: rdm(responses.values[:, responses["region"].values == g]) for g in regions}

    layers = layer_order(feats)
    r, ev, rsa = [], [], []
    for i, layer in enumerate(layers):
        x = layer_matrix(feats, layer)
        result = neural_predictivity(x, responses, method="ridge", splits=splits, seed=seed)
        r.append(result["r"].values)
        ev.append(explained_variance(result["r"].values, ceiling))
        layer_rdm = rdm(x.values[rows])
        rsa.append([compare_rdms(layer_rdm, area_rdms[g], method="spearman") for g in regions])
        log.info("%s %s (%d/%d): median EV %s", feats.attrs.get("model"), layer, i + 1, len(layers),
                 {g: round(float(np.nanmedian(ev[-1][responses["region"].values == g])), 3) for g in regions})
    neuroid_coords = {c: ("neuroid", responses[c].values) for c in ("neuroid_id", "region") }
    ds = xr.Dataset(
        {"r": (("layer", "neuroid"), np.array(r)), "ev": (("layer", "neuroid"), np.array(ev)),
         "ceiling": ("neuroid", ceiling), "rsa": (("layer", "area"), np.array(rsa))},
        coords={"layer": layers, "layer_index": ("layer", np.arange(len(layers))), "area": regions,
                **neuroid_coords})
    ds.attrs.update({"model": feats.attrs.get("model", ""), "features": str(features_path),
                     "recordings": str(recordings_path), "splits": splits, "seed": seed,
                     "mapping": "ridge (RidgeCV, alpha per site, stratified by object_name)",
                     "rsa": "Spearman of 1 - Pearson RDMs over test images",
                     "simulated": int(recordings.attrs.get("simulated", 0)),
                     **{k: v for k, v in recordings.attrs.items() if k.startswith("ground_truth_")}})
    return ds
