"""Gather per-model scores into the tidy tables the figures read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .compare import rdm
from .features import layer_matrix
from .io import open_netcdf, read_json, write_csv, write_netcdf
from .neural import average_repetitions, load_assembly


def _model_fields(metrics: dict) -> dict:
    cfg = metrics["config"]
    return {"model": f"{cfg['arch']}/{cfg['task']}_seed{cfg['seed']}", "arch": cfg["arch"],
            "task": cfg["task"], "seed": int(cfg["seed"])}


def tables(score_paths, metrics_paths) -> dict[str, pd.DataFrame]:
    """Per-layer predictivity, per-layer RSA and per-model summary tables."""
    if len(score_paths) != len(metrics_paths):
        raise ValueError("give one metrics file per score file, in the same order")
    pred, rsa, models = [], [], []
    for score_path, metrics_path in zip(score_paths, metrics_paths):
        ds = open_netcdf(score_path, kind="dataset")
        metrics = read_json(metrics_path)
        fields = _model_fields(metrics)
        best = {}
        for layer, idx in zip(ds["layer"].values, ds["layer_index"].values):
            for region in ds["area"].values:
                mask = ds["region"].values == region
                ev = ds["ev"].sel(layer=layer).values[mask]
                row = {**fields, "layer": str(layer), "layer_index": int(idx), "region": str(region),
                       "ev_median": float(np.nanmedian(ev)),
                       "r_median": float(np.nanmedian(ds["r"].sel(layer=layer).values[mask])),
                       "ceiling_median": float(np.nanmedian(ds["ceiling"].values[mask]))}
                pred.append(row)
                rsa.append({**fields, "layer": str(layer), "layer_index": int(idx), "region": str(region),
                            "rsa": float(ds["rsa"].sel(layer=layer, area=region))})
                if row["ev_median"] > best.get(region, (-np.inf, None))[0]:
                    best[region] = (row["ev_median"], str(layer))
        models.append({**fields, "test_accuracy": metrics.get("test_accuracy"),
                       **{f"{g.lower()}_ev": v[0] for g, v in best.items()},
                       **{f"{g.lower()}_best_layer": v[1] for g, v in best.items()}})
    return {"predictivity": pd.DataFrame(pred), "rsa": pd.DataFrame(rsa), "models": pd.DataFrame(models)}


def recovery_table(score_path) -> pd.DataFrame:
    """EV per surrogate layer and area, with the layer that truly drives each simulated area."""
    ds = open_netcdf(score_path, kind="dataset")
    rows = []
    for region in ds["area"].values:
        truth = ds.attrs.get(f"ground_truth_{region}")
        if truth is None:
            raise ValueError(f"{score_path}: no ground truth recorded for {region}; is it simulated data?")
        mask = ds["region"].values == region
        for layer, idx in zip(ds["layer"].values, ds["layer_index"].values):
            rows.append({"region": str(region), "layer": str(layer), "layer_index": int(idx),
                         "ev_median": float(np.nanmedian(ds["ev"].sel(layer=layer).values[mask])),
                         "ground_truth_layer": truth})
    df = pd.DataFrame(rows)
    best = df.loc[df.groupby("region")["ev_median"].idxmax()].set_index("region")["layer"]
    df["best_layer"] = df["region"].map(best)
    df["recovered"] = df["best_layer"] == df["ground_truth_layer"]
    return df


def rdm_panel(recordings_path, features_path, layer: str, label: str) -> xr.DataArray:
    """The areas' RDMs next to one model layer's RDM, stimuli in the recordings' order."""
    responses = average_repetitions(load_assembly(recordings_path))
    feats = open_netcdf(features_path)
    position = {s: i for i, s in enumerate(feats["stimulus_id"].values)}
    rows = np.array([position[s] for s in responses["stimulus_id"].values])
    sources, mats = [], []
    for region in dict.fromkeys(responses["region"].values.tolist()):
        sources.append(region)
        mats.append(rdm(responses.values[:, responses["region"].values == region]))
    sources.append(f"{label} · {layer}")
    mats.append(rdm(layer_matrix(feats, layer).values[rows]))
    da = xr.DataArray(np.stack(mats).astype(np.float32), dims=("source", "stimulus_a", "stimulus_b"),
                      coords={"source": sources}, name="rdm")
    if "category_name" in responses.coords:
        da = da.assign_coords(category_name=("stimulus_a", responses["category_name"].values))
    return da


def summarise(score_paths, metrics_paths, feature_paths, recordings_path, out_dir,
              surrogate_score=None) -> None:
    out_dir = Path(out_dir)
    t = tables(score_paths, metrics_paths)
    for name, df in t.items():
        write_csv(df, out_dir / f"{name}.csv")
    # RDM panel: the supervised model with the best IT geometry (RSA) at its best layer.
    rsa = t["rsa"]
    pool = rsa[(rsa["region"] == "IT") & (rsa["task"] == "supervised")]
    best = (pool if len(pool) else rsa).sort_values("rsa", ascending=False).iloc[0]
    features_of = dict(zip(t["models"]["model"], feature_paths))
    write_netcdf(rdm_panel(recordings_path, features_of[best["model"]], best["layer"], best["model"]),
                 out_dir / "rdms.nc")
    if surrogate_score:
        write_csv(recovery_table(surrogate_score), out_dir / "recovery.csv")
