"""Gather per-model, per-benchmark scores into the tidy tables the figures read."""

from __future__ import annotations

import logging
import re
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..compare import brainscore
from ..models.features import layer_matrix, open_features
from ..core.io import OUTPUT_MARKER, InputError, open_netcdf, read_json, write_csv, write_netcdf
from ..compare.mapping import columnwise_r, explained_variance
from ..data.assemblies import RDM_DIMS, SESSION_COORDS, average_repetitions, is_rdm_assembly, load_assembly, rdm_parts
from ..compare.rsa import rdm
from ..data.stimulus_ids import image_halves, rows_of

log = logging.getLogger(__name__)
# How the layer behind each *_ev score of models.csv is chosen (held-out), and behind *_rsa (not).
HELD_OUT = ("layer chosen on one half of the sites (split seeded by site id), scored on the other half; "
            "both ways, averaged")
IN_SAMPLE = "layer chosen and scored on the same sites (too few sites to split; optimistic)"
RSA_SELECTION = "layer with the highest RSA, chosen and scored on the same data (optimistic)"
RSA_FULL = ("RSA on all the benchmark's images at the layer best on all of them (chosen and scored on the same "
            "images: optimistic); intervals from resampling the images; no noise ceiling (one RDM per area, "
            "no per-subject RDMs)")
RSA_HELD_OUT = ("layer chosen on one half of the images (split by stimulus id), RSA on the other half; "
                "both ways, averaged (an RSA over half the images)")


MODEL_FOLDER = re.compile(r"(?P<task>[a-z_]+)_seed(?P<seed>\d+)$")


def model_fields(metrics: dict, path=None) -> dict:
    """Model id, architecture, task and seed of a metrics.json. The workflow's folder
    ``ARCH/TASK_seedN/metrics.json`` names the model (a second diet's network is trained as
    'supervised' but is the model ARCH/objects_seedN); elsewhere the training config does."""
    cfg = metrics["config"]
    folder = MODEL_FOLDER.match(Path(path).parent.name) if path is not None else None
    if folder and Path(path).parent.parent.name == cfg["arch"]:
        task, seed = folder["task"], int(folder["seed"])
    else:
        task, seed = cfg["task"], int(cfg["seed"])
    return {"model": f"{cfg['arch']}/{task}_seed{seed}", "arch": cfg["arch"], "task": task, "seed": seed}


def column_name(region: str, metric: str) -> str:
    """'monkey IT', 'rsa' -> 'monkey_it_rsa': a models.csv column per region and metric."""
    return f"{re.sub(r'[^a-z0-9]+', '_', region.lower()).strip('_')}_{metric}"


def convention_of(ds: xr.Dataset) -> str:
    """'brainscore' for a score file of ``method: pls`` (Brain-Score's aggregates), else 'goaldriven'."""
    return "brainscore" if "r_split" in ds else "goaldriven"


class AreaScores:
    """Per layer, the score of any subset of one area's sites (``sites``: indices into the
    area's sites, repeats allowed, as a bootstrap draws them), in the score file's convention.
    goaldriven: the median over the sites of the ceiling-normalised EV where any site has a
    ceiling (only those sites count), else of the signed r² (raw explained variance).
    brainscore (``method: pls``): Brain-Score's aggregates over the same sites
    (:mod:`goaldriven.brainscore`): mean over splits of the median r, squared and divided by the
    ceiling aggregated the same way; without a ceiling the signed square of that r."""

    def __init__(self, ds: xr.Dataset, area: str):
        mask = ds["region"].values == area
        self.brainscore = convention_of(ds) == "brainscore"
        if self.brainscore:
            self.r_split = ds["r_split"].values[:, :, mask]  # (layer, split, site)
            self.ceiling_split = ds["ceiling_split"].values[:, mask]  # (split, site)
            has_ceiling = np.isfinite(self.ceiling_split).any(axis=0)
            self.normalised = bool(has_ceiling.any())
            self.usable = has_ceiling if self.normalised else np.isfinite(self.r_split).any(axis=(0, 1))
        else:
            ev, r = ds["ev"].values[:, mask], ds["r"].values[:, mask]
            self.normalised = bool(np.isfinite(ev).any())
            self.values = ev if self.normalised else np.sign(r) * r ** 2
            self.usable = np.isfinite(self.values).any(axis=0)
        self.metric = "ev" if self.normalised else "r2"
        self.n_layers = ds.sizes["layer"]

    def __call__(self, sites=None, layers=None) -> np.ndarray:
        sites = np.arange(len(self.usable)) if sites is None else np.asarray(sites, int)
        layers = np.arange(self.n_layers) if layers is None else np.atleast_1d(layers)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice gives NaN, as meant
            if not self.brainscore:
                return np.nanmedian(self.values[np.ix_(layers, sites)], axis=1) if len(sites) else \
                    np.full(len(layers), np.nan)
            sites = sites[self.usable[sites]]
            raw = np.array([brainscore.split_median(self.r_split[i][:, sites]) for i in layers])
            if not self.normalised:
                return np.sign(raw) * raw ** 2
            ceiling = brainscore.split_median(self.ceiling_split[:, sites])
            return np.array([brainscore.ceiled_score(x, ceiling) for x in raw])


def predictivity_rows(ds: xr.Dataset, fields: dict) -> list[dict]:
    """Per layer and region: the area score over all its sites (``ev_median``: the median EV
    over the sites with a ceiling, ``normalised``; else the median signed r²), the median
    r over every recorded site and the median ceiling (for ``method: pls`` Brain-Score's
    aggregates: the split median r and its ceiling)."""
    rows = []
    convention = convention_of(ds)
    areas = {str(g): AreaScores(ds, str(g)) for g in ds["area"].values}
    scores = {g: area() if area.brainscore else None for g, area in areas.items()}
    for i, (layer, idx) in enumerate(zip(ds["layer"].values, ds["layer_index"].values)):
        for region, area in areas.items():
            mask = ds["region"].values == region
            r, ceiling = ds["r"].values[i, mask], ds["ceiling"].values[mask]
            if area.brainscore:
                r_median = brainscore.split_median(ds["r_split"].values[i][:, mask])
                ceiling_median = (brainscore.split_median(area.ceiling_split[:, area.usable]) if area.normalised
                                  else np.nan)
                n_sites, normalised, score = int(area.usable.sum()), area.normalised, scores[region][i]
            else:
                # Per layer, as it always was here: EV where this layer has any site with a ceiling
                # and a finite r, else the signed r² (held_out_scores decides once per area).
                ev = ds["ev"].values[i, mask]
                normalised = bool(np.isfinite(ev).any())
                site = ev if normalised else np.sign(r) * r ** 2
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN layer: NaN
                    score = np.nanmedian(site)
                r_median = float(np.nanmedian(r)) if np.isfinite(r).any() else np.nan
                ceiling_median = float(np.nanmedian(ceiling)) if np.isfinite(ceiling).any() else np.nan
                n_sites = int(np.isfinite(site).sum())
            # n_sites: the sites behind ev_median (those with a ceiling, where any has one);
            # r_median is over every recorded site (n_sites_r).
            rows.append({**fields, "layer": str(layer), "layer_index": int(idx), "region": region,
                         "ev_median": float(score), "ceiling_normalised": normalised,
                         "r_median": float(r_median), "ceiling_median": ceiling_median,
                         "n_sites": n_sites, "n_sites_r": int(np.isfinite(r).sum()), "convention": convention})
    return rows


def _session_rows(ds: xr.Dataset, fields: dict) -> list[dict]:
    """Per layer, region and recording session: the median r over that session's sites, on
    that session's images (score files with held-out predictions record the sessions;
    ``method: pls``: Brain-Score's split median r of the session)."""
    if "entry_session" not in ds:
        return []
    session_of = dict(zip(ds["entry_neuroid_id"].values.astype(str), ds["entry_session"].values))
    images = {b: len(set(ds["entry_stimulus_id"].values[ds["entry_session"].values == b].tolist()))
              for b in np.unique(ds["entry_session"].values)}
    site_session = np.array([session_of.get(n, -1) for n in ds["neuroid_id"].values.astype(str)])
    rows = []
    for i, (layer, idx) in enumerate(zip(ds["layer"].values, ds["layer_index"].values)):
        r_layer = ds["r"].sel(layer=layer).values
        for region in ds["area"].values:
            for b in sorted(images):
                mask = (ds["region"].values == region) & (site_session == b)
                if np.isfinite(r_layer[mask]).any():
                    rows.append({**fields, "layer": str(layer), "layer_index": int(idx), "region": str(region),
                                 "session": int(b), "r_median": float(
                                     brainscore.split_median(ds["r_split"].values[i][:, mask]) if "r_split" in ds
                                     else np.nanmedian(r_layer[mask])),
                                 "n_sites": int(np.isfinite(r_layer[mask]).sum()), "n_images": images[b]})
    return rows


def _rsa_rows(ds: xr.Dataset, fields: dict) -> list[dict]:
    rows = []
    for layer, idx in zip(ds["layer"].values, ds["layer_index"].values):
        for area in ds["area"].values:
            row = {**fields, "layer": str(layer), "layer_index": int(idx), "region": str(area),
                   "rsa": float(ds["rsa"].sel(layer=layer, area=area))}
            for extra in ("rsa_low", "rsa_high", "rsa_kendall_tau_a", "rsa_kendall_tau_a_low",
                          "rsa_kendall_tau_a_high", "rsa_ceiling_low", "rsa_ceiling_high"):
                if extra in ds:  # per layer and area, or (a ceiling) per area
                    value = ds[extra].sel(area=area)
                    row[extra] = float(value.sel(layer=layer) if "layer" in value.dims else value)
            rows.append(row)
    return rows


def tables(score_paths, metrics_paths) -> dict[str, pd.DataFrame]:
    """Per-layer predictivity, per-layer RSA, per-model summary and reference-RDM tables."""
    metrics, fields_of = {}, {}
    for path in metrics_paths:
        m = read_json(path)
        fields = model_fields(m, path)
        metrics[fields["model"]], fields_of[fields["model"]] = m, fields
    pred, rsa, refs, best, sessions, input_size, convention = [], [], [], {}, [], {}, {}
    for path in score_paths:
        ds = open_netcdf(path, kind="dataset")
        model = ds.attrs.get("model", "")
        if model not in metrics:
            raise InputError(f"{path}: scores of model {model!r}, which has no metrics file among the inputs")
        fields = {**fields_of[model], "benchmark": ds.attrs.get("benchmark", "")}
        if not input_size.get(model):  # recorded by goaldriven score; older files: read the features file
            input_size[model] = int(ds.attrs.get("input_size", 0)) or _input_size(ds.attrs.get("features"))
        if ds.attrs.get("kind", "predictivity") == "predictivity":
            convention[model] = convention_of(ds)
            pred += predictivity_rows(ds, fields)
            sessions += _session_rows(ds, fields)
            for region, held in held_out_scores(ds).items():
                key = (model, column_name(region, "ev"))
                score, layer = held.pop("score"), held.pop("layer")
                if score > best.get(key, (-np.inf,))[0]:  # over benchmarks: the best held-out
                    best[key] = (score, layer, held)
        rows = _rsa_rows(ds, fields)
        rsa += rows
        if "rsa_half" in ds:
            for area, held in held_out_rsa(ds).items():
                key = (model, column_name(area, "rsa"))
                score, layer = held.pop("score"), held.pop("layer")
                if score > best.get(key, (-np.inf,))[0]:
                    best[key] = (score, layer, held)
        else:  # score files from before the halves were scored
            _keep_best(best, model, rows, "rsa", "rsa")
        if "reference_rsa" in ds and not refs:  # the same for every model: keep one copy
            refs = [{"benchmark": fields["benchmark"], "reference": str(ref), "region": str(area),
                     "rsa": float(ds["reference_rsa"].sel(reference=ref, area=area))}
                    for ref in ds["reference"].values for area in ds["area"].values]
    models = []
    for model, m in metrics.items():
        # input_size: the side, in pixels, every stimulus was resized to for this model's features
        row = {**fields_of[model], "test_accuracy": m.get("test_accuracy"), "input_size": input_size.get(model)}
        if model in convention:  # how its *_ev and *_r scores aggregate sites (goaldriven or brainscore)
            row["convention"] = convention[model]
        for (name, column), (value, layer, *extra) in best.items():
            if name == model:  # it_ev -> it_best_layer; it_rsa -> it_rsa_best_layer
                row[column] = value
                row[column.removesuffix("_ev") + "_best_layer"] = layer
                for key, v in (extra[0] if extra else {}).items():  # it_ev_in_sample, it_selection, ...
                    row[column + key if key.startswith("_") else column.removesuffix("_ev") + "_" + key] = v
        if any(c.endswith("_rsa") for c in row) and not any(c.endswith("_rsa_selection") for c in row):
            row["rsa_selection"] = RSA_SELECTION
        models.append(row)
    return {"predictivity": pd.DataFrame(pred), "rsa": pd.DataFrame(rsa), "models": pd.DataFrame(models),
            "references": pd.DataFrame(refs, columns=["benchmark", "reference", "region", "rsa"]),
            "sessions": pd.DataFrame(sessions)}


def _input_size(features_path) -> int | None:
    """The image side a features file was extracted at (None if the file is not at hand)."""
    if not features_path or not Path(features_path).is_file():
        return None
    with open_features(features_path, lazy=True) as da:
        size = da.attrs.get("input_size")
    return int(size) if size is not None else None


def best_per_region(rows: list[dict], value: str) -> dict[str, dict]:
    """Each region's row with the highest ``value``: its best layer, whose value is the model's
    score for that region. The first wins ties; a NaN never wins, but a region whose rows are
    all NaN keeps its first row."""
    best = {}
    for row in rows:
        old = best.get(row["region"])
        if old is None or (not np.isnan(row[value]) and not row[value] <= old[value]):
            best[row["region"]] = row
    return best


def site_halves(ids, regions) -> np.ndarray:
    """0/1 half of every site: within each region, sites in the order of a hash of their id,
    alternately; so the split depends on the ids only, not on their order or on other sites."""
    ids, regions = np.asarray(ids).astype(str), np.asarray(regions).astype(str)
    half = np.zeros(len(ids), int)
    for g in dict.fromkeys(regions.tolist()):
        idx = np.flatnonzero(regions == g)
        order = idx[np.argsort([zlib.crc32(s.encode()) for s in ids[idx]], kind="stable")]
        half[order[1::2]] = 1
    return half


def _first_max(values: np.ndarray) -> int:
    """Index of the largest value, the first among ties; 0 if all are NaN."""
    return int(np.nanargmax(values)) if np.isfinite(values).any() else 0


def held_out_scores(ds: xr.Dataset) -> dict[str, dict]:
    """Per region of a predictivity score file, the model's score with the layer chosen on
    held-out sites (``HELD_OUT``): the median site score (EV, or signed r² without a ceiling,
    as in the per-layer tables) of one half at the layer best on the other, averaged over both
    ways. Also the layer best on all sites (``layer``, for display), the in-sample maximum that
    the held-out score replaces, and two test-retest differences at that layer, the metric's own
    noise: |half A - half B| of the sites (which sites were recorded) and of the images (which
    images were shown; ``_retest_images_diff``)."""
    layers, region = ds["layer"].values, ds["region"].values
    half = site_halves(ds["neuroid_id"].values, region)
    out = {}
    for g in ds["area"].values:
        mask = region == g
        area = AreaScores(ds, str(g))
        normalised = area.normalised
        full = area()
        a, b = (area(np.flatnonzero(half[mask] == h)) for h in (0, 1))
        best = _first_max(full)
        split = np.isfinite(a).any() and np.isfinite(b).any()
        if not split:
            log.warning("%s %s: %d site(s), too few to choose the layer on held-out sites", ds.attrs.get("model"),
                        g, int(mask.sum()))
        score = (b[_first_max(a)] + a[_first_max(b)]) / 2 if split else full[best]
        out[str(g)] = {"score": float(score), "layer": str(layers[best]), "_in_sample": float(full[best]),
                       "_retest_diff": float(abs(a[best] - b[best])) if split else np.nan,
                       "_retest_images_diff": _image_retest(ds, best, str(g), normalised),
                       "_normalised": normalised, "selection": HELD_OUT if split else IN_SAMPLE}
    return out


def _image_retest(ds: xr.Dataset, layer: int, region: str, normalised: bool) -> float:
    """|score on one half of the images - score on the other| at one layer: the site scores
    recomputed from the held-out predictions of each half (by stimulus id, within each
    session), their medians compared. NaN for score files without predictions."""
    if "prediction" not in ds or convention_of(ds) == "brainscore":
        # PLS's shuffle splits leave about a third of the images never held out: no half score
        return np.nan
    ceiling = dict(zip(ds["neuroid_id"].values.astype(str), ds["ceiling"].values))
    region_of = dict(zip(ds["neuroid_id"].values.astype(str), ds["region"].values.astype(str)))
    per_half = [[], []]
    session = ds["entry_session"].values
    for b in np.unique(session):
        e = np.flatnonzero(session == b)
        stim, sites = ds["entry_stimulus_id"].values[e].astype(str), ds["entry_neuroid_id"].values[e].astype(str)
        n_site = len(set(sites.tolist()))
        ids, sites = stim[::n_site], sites[:n_site]
        keep = np.array([region_of[s] == region for s in sites])
        if not keep.any():
            continue
        pred = ds["prediction"].values[layer, e].reshape(len(ids), n_site)[:, keep]
        obs = ds["observed"].values[e].reshape(len(ids), n_site)[:, keep]
        c = np.array([ceiling[s] for s in sites[keep]], float)
        half = image_halves(ids)
        for h in (0, 1):
            r = columnwise_r(pred[half == h], obs[half == h])
            per_half[h].append(explained_variance(r, c) if normalised else np.sign(r) * r ** 2)
    if not per_half[0]:
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a, b = (np.nanmedian(np.concatenate(v)) for v in per_half)
    return float(abs(a - b))


def held_out_rsa(ds: xr.Dataset) -> dict[str, dict]:
    """Per area of a score file with ``rsa_half``: the RSA of the layer chosen on one half of
    the images, scored on the other half (``RSA_HELD_OUT``), averaged over both ways; the
    layer best on all images (for display) and the in-sample maximum it replaces. Score files
    of published RDMs add the RSA on all their images at that layer (``_full_*``: Spearman and
    Kendall tau-a, each with its stimulus-bootstrap interval; ``full_selection`` says the
    layer is chosen on the same images, so it is optimistic)."""
    out = {}
    for area in ds["area"].values:
        full = ds["rsa"].sel(area=area).values
        half = ds["rsa_half"].sel(area=area).values  # (2, layer)
        best = _first_max(full)
        score = (half[1, _first_max(half[0])] + half[0, _first_max(half[1])]) / 2
        out[str(area)] = {"score": float(score), "layer": str(ds["layer"].values[best]),
                          "_in_sample": float(full[best]),
                          "_retest_diff": float(abs(half[0, best] - half[1, best])),
                          "selection": RSA_HELD_OUT}
        if ds.attrs.get("kind") == "rdms":
            value = lambda v: float(ds[v].sel(area=area).values[best]) if v in ds else np.nan  # noqa: E731
            out[str(area)].update({
                "_full_spearman": float(full[best]), "_full_spearman_low": value("rsa_low"),
                "_full_spearman_high": value("rsa_high"), "_full_kendall_tau_a": value("rsa_kendall_tau_a"),
                "_full_kendall_tau_a_low": value("rsa_kendall_tau_a_low"),
                "_full_kendall_tau_a_high": value("rsa_kendall_tau_a_high"),
                "_full_n_images": int(ds.attrs.get("n_stimuli", 0)) or np.nan, "full_selection": RSA_FULL})
    return out


def _keep_best(best: dict, model: str, rows: list[dict], value: str, suffix: str) -> None:
    """Update ``best[(model, column)] = (score, layer)`` with these rows (over benchmarks too)."""
    for region, row in best_per_region(rows, value).items():
        key = (model, column_name(region, suffix))
        if row[value] > best.get(key, (-np.inf, None))[0]:
            best[key] = (row[value], row["layer"])


def recovery_table(score_path) -> pd.DataFrame:
    """EV per surrogate layer and area, with the layer that truly drives each simulated area."""
    ds = open_netcdf(score_path, kind="dataset")
    rows = []
    for region in ds["area"].values:
        truth = ds.attrs.get(f"ground_truth_{region}")
        if truth is None:
            raise InputError(f"{score_path}: no ground truth recorded for {region}; is it simulated data?")
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


def _area_rdms(data_path) -> tuple[list[str], list[np.ndarray], np.ndarray, np.ndarray | None]:
    """(names, RDMs, stimulus ids, categories) of a benchmark: published neural RDMs, or the
    RDM of each region's sites (one block of sites per region: the first session)."""
    da = open_netcdf(data_path)
    if is_rdm_assembly(da):
        ids, is_neural = rdm_parts(da, data_path)
        keep = np.flatnonzero(is_neural)
        cats = da["category_name_a"].values if "category_name_a" in da.coords else None
        return [str(da["source"].values[i]) for i in keep], [da.values[i] for i in keep], ids, cats
    responses = average_repetitions(load_assembly(data_path))
    session = SESSION_COORDS["presentation"]
    if session in responses.coords:  # merged sessions: one session's images and sites
        first = responses[session].values[0]
        responses = responses.isel(presentation=responses[session].values == first)
        responses = responses.isel(neuroid=np.isfinite(responses.values).all(axis=0))
    regions = list(dict.fromkeys(responses["region"].values.tolist()))
    mats = [rdm(responses.values[:, responses["region"].values == g], ids=responses["stimulus_id"].values,
                source=f"{data_path} ({g})") for g in regions]
    cats = responses["category_name"].values if "category_name" in responses.coords else None
    return regions, mats, responses["stimulus_id"].values, cats


def rdm_panel(areas, features_path, layer: str, label: str) -> xr.DataArray:
    """The areas' RDMs (from :func:`_area_rdms`) next to one model layer's RDM, stimuli sorted
    by category if known."""
    names, mats, ids, cats = areas
    with open_features(features_path, lazy=True) as feats:  # reads only this layer from disk
        rows = rows_of(ids, feats["stimulus_id"].values, str(features_path), "the RDM panel's benchmark")
        mats = mats + [rdm(layer_matrix(feats, layer).values[rows], ids=ids, source=f"{features_path} ({layer})")]
    order = np.argsort(cats, kind="stable") if cats is not None else np.arange(len(ids))
    stack = np.stack([m[np.ix_(order, order)] for m in mats]).astype(np.float32)
    da = xr.DataArray(stack, dims=RDM_DIMS,
                      coords={"source": names + [f"{label} · {layer}"]}, name="rdm")
    if cats is not None:
        da = da.assign_coords(category_name=("stimulus_a", np.asarray(cats)[order]))
    return da


def _model_of(features_path) -> str:
    with open_features(features_path, lazy=True) as da:  # only the attrs: leave activations on disk
        return da.attrs["model"]


# What summarise writes into its folder, which other commands share (results/summary); the
# folder's OUTPUT_MARKER names summarise once it has written there.
SUMMARY_FILES = ("predictivity.csv", "rsa.csv", "models.csv", "references.csv", "sessions.csv", "rdms.nc",
                 "recovery.csv")


def check_summary_folder(out_dir) -> None:
    """Refuse an output folder where summarise would replace a file it did not write: one of
    :data:`SUMMARY_FILES` in a folder without its marker (a user's ``models.csv``), or a folder
    another command marked as its own. Other files in the folder are left alone."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a folder")
    marker = out_dir / OUTPUT_MARKER
    made_by = marker.read_text(errors="replace").strip() if marker.is_file() else None
    if made_by == "summarise":
        return
    if made_by is not None:
        raise InputError(f"{out_dir}: the output folder was written by goaldriven {made_by}; choose another")
    clash = [name for name in SUMMARY_FILES if (out_dir / name).exists()]
    if clash:
        raise InputError(f"{out_dir}: holds {clash[0]}, which summarise did not write (the folder has no "
                         f"{OUTPUT_MARKER} of summarise); it replaces only its own tables: move the file or "
                         "choose another folder")


def summarise(score_paths, metrics_paths, out_dir, panel_features=(), panel_data=None,
              surrogate_score=None) -> None:
    out_dir = Path(out_dir)
    check_summary_folder(out_dir)
    t = tables(score_paths, metrics_paths)
    # RDM panel: the supervised model with the best RSA on the panel's benchmark, at its best layer.
    if panel_data is None:
        raise InputError("summarise: the RDM panel needs --panel-data and the features of its benchmark")
    features_by_model = {_model_of(p): p for p in panel_features}
    areas = _area_rdms(panel_data)
    rsa = t["rsa"][t["rsa"]["model"].isin(features_by_model) & t["rsa"]["region"].isin(areas[0])]
    if rsa.empty:
        raise InputError("summarise: the RDM panel needs --panel-data and the features of its benchmark")
    pool = rsa[rsa["task"] == "supervised"]
    best = (pool if len(pool) else rsa).sort_values("rsa", ascending=False).iloc[0]
    panel = rdm_panel(areas, features_by_model[best["model"]], best["layer"], best["model"])
    recovery = recovery_table(surrogate_score) if surrogate_score else None
    # Written only once everything is made, marked first: a rerun recognises its own tables.
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / OUTPUT_MARKER).write_text("summarise\n")
    for name, df in t.items():
        write_csv(df, out_dir / f"{name}.csv")
    write_netcdf(panel, out_dir / "rdms.nc")
    if recovery is not None:
        write_csv(recovery, out_dir / "recovery.csv")


FULL_RSA_RESAMPLING = ("seeds (t with Welch-Satterthwaite df at the 90% upper bound of the seed variance) and "
                       "images (each model's stimulus-bootstrap interval read as +-1.96 sd, the variances "
                       "averaged over seeds)")
NO_CEILING = ("no noise ceiling: the published data hold one RDM per area (monkey IT pooled over its neurons, "
              "human IT the group's voxels), not per-subject RDMs, so Nili et al. 2014's bounds cannot be computed")


def full_set_rsa(models: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per task, architecture and area with an RSA on all of a published benchmark's images
    (models.csv ``<area>_rsa_full_*``): the mean over seeds of the Spearman and the Kendall
    tau-a, each with an interval over seeds and images. The image part of a model is its
    stimulus-bootstrap interval as a normal sd; the seeds share the images, so the mean's image
    variance is at most the mean of theirs, which is used (conservative)."""
    from .statistics import seeds_and_images

    areas = [c.removesuffix("_rsa_full_spearman") for c in models.columns if c.endswith("_rsa_full_spearman")]
    z = 2 * 1.959964  # width of a 95% normal interval in sd
    rows = []
    for (task, arch), g in models.groupby(["task", "arch"]):
        for area in areas:
            d = g.dropna(subset=[f"{area}_rsa_full_spearman"])
            if d.empty:
                continue
            row = {"task": task, "arch": arch, "area": area, "n_seeds": len(d),
                   "n_images": d[f"{area}_rsa_full_n_images"].iloc[0]}
            for stat in ("spearman", "kendall_tau_a"):
                col = f"{area}_rsa_full_{stat}"
                values = d[col].astype(float).to_numpy()
                image_var = float(np.mean(((d[f"{col}_high"] - d[f"{col}_low"]).astype(float) / z) ** 2))
                ci = seeds_and_images(values.mean(), [values], image_var, level)
                row.update({stat: values.mean(), f"{stat}_low": ci["low"], f"{stat}_high": ci["high"]})
            rows.append({**row, "resampling": FULL_RSA_RESAMPLING, "ceiling": NO_CEILING,
                         "selection": d[f"{area}_rsa_full_selection"].iloc[0]})
    return pd.DataFrame(rows)
