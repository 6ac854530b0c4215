"""The positive control of a study: does training make a network more brain-like than its own
untrained initialisation, than raw pixels, than a V1-like model? Reported whatever it shows.

For every trained group (architecture x task, its seeds) and every score (each area of each
benchmark: ceiling-normalised EV over the sites that have a ceiling, the median r over all
sites, signed r^2 where no site has a ceiling, RSA with each published RDM), the table holds
the trained score (mean over its seeds), the comparison's score and their difference. The
headline 95% intervals (``*_low``/``*_high``) and ``p_value`` treat **seeds** as a sample
too (:func:`with_seeds`): the seed-to-seed spread of the per-seed values (an untrained
control paired with the trained network of its seed; another diet's seeds independent) plus
the variance over paired resamples of **images** (within each recording session) **and
sites** (within each half): every model is scored on the same resample, so the resampled
difference is that of the difference. ``difference_seeds_fixed_*`` keep the former percentile
interval of the image-and-site resamples alone (an interval given these seeds).
``p_adjusted``: Holm over every row of the table (one family); ``survives_holm`` marks
p_adjusted < 0.05, ``excludes_zero`` the unadjusted headline interval.

Layer choice is held out: each model's layer for an area is chosen on one half of the sites
(site responses; :func:`goaldriven.summary.site_halves`) or of the images (RDMs;
:func:`goaldriven.stimulus_ids.image_halves`) and scored on the other, both ways, averaged; the choice is held fixed
in the resamples (an interval given the choice). Site scores come from each stimulus's
held-out prediction pooled over the cross-validation folds (``prediction`` in the score
files), so an image resample changes the r of every site consistently.

The image-and-site part is conditional on the fitted mappings and on the layer choice:
resampling reuses each model's held-out predictions rather than refitting the regression (a
seed's own fit noise is in the seed spread). benchmarks/positive_control_coverage.py checks
the coverage on simulated predictions, with and without seed-to-seed variance.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from ..models.features import layer_matrix, layer_order, open_features
from ..core.io import InputError, open_netcdf
from ..core.registry import MODEL_KINDS
from ..compare.mapping import columnwise_r
from ..data.assemblies import rdm_parts
from ..compare.rsa import compare_vectors, rdm
from ..data.stimulus_ids import image_halves, rows_of
from .statistics import holm, seeds_and_images
from .summary import MODEL_FOLDER, site_halves

log = logging.getLogger(__name__)
CHUNK = 100  # bootstrap replicates scored at once (memory: images x CHUNK x sites per block)

# The untrained control of each trained task (same architecture and seed).
CONTROL_OF = {k: spec.untrained for k, spec in MODEL_KINDS.items() if spec.untrained}
# Trained diets compared with each other, per architecture (CIFAR-10 at 32 px against the objects at 64 px:
# a difference of diet and resolution together).
DIETS = {"supervised": ("objects",)}
RESAMPLING = ("seeds (per-seed values: paired by seed with the untrained control, independent for another "
              "diet; t with Welch-Satterthwaite df at the 90% upper bound of the seed variance) and images "
              "(within session) and sites (within half), paired across models (bootstrap variance)")
RESAMPLING_SEEDS_FIXED = "images (within session) and sites (within half), paired across models; seeds fixed"
P_FAMILY = "Holm over the {n} rows of this table (every benchmark, area, score, group and comparison)"
SELECTION = "layer chosen on one half of the {unit}, scored on the other, both ways averaged"
IN_SAMPLE = "layer chosen and scored on the same sites (all in one half; optimistic)"
# The site scores here are always recomputed from the pooled held-out predictions, so that an
# image resample changes every site's r; models.csv keeps the mean over folds where folds are large.
R_ESTIMATOR = "r of each site's held-out predictions pooled over the cross-validation folds"
# comparison.method pls: the same estimator on PLS predictions (Brain-Score has no paired interval).
R_ESTIMATOR_PLS = ("r of each site's held-out PLS predictions, averaged over the shuffle splits that held an "
                   "image out (images never held out are left out); medians over sites, not Brain-Score's aggregate")


def _split(model: str) -> tuple[str, str, int]:
    arch, _, rest = model.partition("/")
    m = MODEL_FOLDER.match(rest)
    if not m:
        raise InputError(f"model id {model!r} is not ARCH/TASK_seedN")
    return arch, m["task"], int(m["seed"])


class _SiteScores:
    """One predictivity score file as blocks (sessions) of (layers, images, sites) predictions."""

    def __init__(self, path):
        ds = path if isinstance(path, xr.Dataset) else open_netcdf(path, kind="dataset")
        path = ds.attrs.get("source", "<memory>") if isinstance(path, xr.Dataset) else path
        if "prediction" not in ds:
            raise InputError(f"{path}: holds no held-out predictions; score the model again with this "
                             "version of goaldriven")
        self.path, self.model, self.benchmark = str(path), ds.attrs["model"], ds.attrs.get("benchmark", "")
        self.estimator = R_ESTIMATOR_PLS if ds.attrs.get("method") == "pls" else R_ESTIMATOR
        self.layers = [str(x) for x in ds["layer"].values]
        site_ids = ds["neuroid_id"].values.astype(str)
        region = dict(zip(site_ids, ds["region"].values.astype(str)))
        ceiling = dict(zip(site_ids, ds["ceiling"].values))
        half = dict(zip(site_ids, site_halves(site_ids, ds["region"].values)))
        session = ds["entry_session"].values
        self.blocks = []
        for b in np.unique(session):
            e = np.flatnonzero(session == b)
            stim = ds["entry_stimulus_id"].values[e].astype(str)
            sites = ds["entry_neuroid_id"].values[e].astype(str)
            n_img = len(dict.fromkeys(stim.tolist()))
            n_site = len(e) // n_img
            sites = sites[:n_site]
            self.blocks.append({
                "ids": stim[::n_site], "sites": sites,
                "pred": ds["prediction"].values[:, e].reshape(len(self.layers), n_img, n_site),
                "obs": ds["observed"].values[e].reshape(n_img, n_site),
                "region": np.array([region[s] for s in sites]),
                "ceiling": np.array([ceiling[s] for s in sites], float),
                "half": np.array([half[s] for s in sites])})
        # Models pair only on the very same recordings: ids and the observed responses themselves.
        self.key = [(tuple(b["ids"]), tuple(b["sites"]), hash(b["obs"].tobytes())) for b in self.blocks]


def _site_values(r: np.ndarray, ceiling: np.ndarray, kind: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "ev":
            return np.where(np.isfinite(ceiling) & (ceiling > 0), np.clip(np.sign(r) * r ** 2 / ceiling, 0, 1), np.nan)
        if kind == "r2":
            return np.sign(r) * r ** 2
    return r


def _site_metrics(scores: _SiteScores) -> list[tuple[str, str, list]]:
    """(region, kind, site mask per block) of every score the table holds for these sites: EV
    over the sites with a usable (positive) ceiling and r over all sites where any has one,
    else signed r² over all sites."""
    out = []
    regions = list(dict.fromkeys(np.concatenate([b["region"] for b in scores.blocks]).tolist()))
    for g in regions:
        has_ceiling = [(b["region"] == g) & np.isfinite(b["ceiling"]) & (b["ceiling"] > 0) for b in scores.blocks]
        in_region = [b["region"] == g for b in scores.blocks]
        if sum(m.sum() for m in has_ceiling):
            out.append((g, "ev", has_ceiling))
            out.append((g, "r", in_region))
        else:
            out.append((g, "r2", in_region))
    return out


def _median_over(values_per_block, masks) -> float:
    v = np.concatenate([v[m] for v, m in zip(values_per_block, masks)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmedian(v)) if len(v) else np.nan


def _half_masks(blocks, masks) -> tuple[list, bool]:
    """The metric's sites of each half, and whether both halves have some (else the layer is
    chosen and scored on all of them: in-sample, and the table says so)."""
    halves = [[m & (b["half"] == h) for m, b in zip(masks, blocks)] for h in (0, 1)]
    split = all(sum(hm.sum() for hm in halves[h]) for h in (0, 1))
    return (halves if split else [masks, masks]), split


def _site_score_samples(scores: _SiteScores, kind: str, masks, draws) -> tuple[float, np.ndarray, str]:
    """The held-out-layer score (point estimate, then one per resample of ``draws``) and the
    layers chosen on each half of the sites. ``draws`` (:func:`_site_draws`): per block, the
    image indices of every replicate, and per half and block the site indices of every
    replicate, drawn among the metric's own sites."""
    blocks = scores.blocks
    # Per layer, per block: site values on all images; the layer is chosen on one half, scored on the other.
    per_layer = [[_site_values(columnwise_r(b["pred"][i], b["obs"]), b["ceiling"], kind) for b in blocks]
                 for i in range(len(scores.layers))]
    half_masks, _ = _half_masks(blocks, masks)
    med = np.array([[_median_over(vals, half_masks[h]) for vals in per_layer] for h in (0, 1)])
    chosen = [int(np.nanargmax(med[1 - h])) if np.isfinite(med[1 - h]).any() else 0 for h in (0, 1)]
    point = float(np.mean([med[h, chosen[h]] for h in (0, 1)]))
    n_boot = len(draws["images"][0]) if blocks else 0
    samples = np.empty(n_boot)
    for lo in range(0, n_boot, CHUNK):  # replicates in chunks: (images, replicates, sites) arrays
        part = slice(lo, min(lo + CHUNK, n_boot))
        halves = []
        for h in (0, 1):
            vals = []
            for k, b in enumerate(blocks):
                pick = draws["sites"][h][k][part]
                if pick.shape[1]:
                    img = draws["images"][k][part].T[:, :, None]
                    r = columnwise_r(b["pred"][chosen[h]][img, pick[None]], b["obs"][img, pick[None]])
                    vals.append(_site_values(r, b["ceiling"][pick], kind))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                halves.append(np.nanmedian(np.concatenate(vals, axis=1), axis=1) if vals
                              else np.full(part.stop - part.start, np.nan))
        samples[part] = np.mean(halves, axis=0)
    layers = f"{scores.layers[chosen[0]]} | {scores.layers[chosen[1]]}"
    return point, samples, layers


def _site_draws(blocks, masks, n_boot: int, seed: int) -> dict:
    """Resamples shared by every model (so differences are paired): per block (session), the
    image indices of every replicate (n_boot, images), and, per half, per block, the site
    indices of every replicate drawn among the metric's own sites of that block and half
    (stratified: every replicate has as many as the data)."""
    rng = np.random.default_rng(seed)
    half_masks, _ = _half_masks(blocks, masks)
    images = [rng.integers(0, len(b["ids"]), (n_boot, len(b["ids"]))) for b in blocks]
    sites = []
    for h in (0, 1):
        pools = [np.flatnonzero(m) for m in half_masks[h]]
        sites.append([pool[rng.integers(0, len(pool), (n_boot, len(pool)))] if len(pool)
                      else np.zeros((n_boot, 0), int) for pool in pools])
    return {"images": images, "sites": sites}


class _RdmScores:
    """One model's layer RDMs on an RDM benchmark's images, in the benchmark's stimulus order."""

    def __init__(self, features_path, ids):
        with open_features(features_path, lazy=True) as feats:
            self.model = feats.attrs["model"]
            rows = rows_of(ids, feats["stimulus_id"].values, str(features_path), "the RDM benchmark")
            self.layers = layer_order(feats)
            self.rdms = [rdm(layer_matrix(feats, layer).values[rows], ids=ids, source=f"{features_path} ({layer})")
                         for layer in self.layers]


def _rsa_on(model_rdm, target, images) -> float:
    iu, ju = np.triu_indices(len(images), k=1)
    rows, cols = images[iu], images[ju]
    keep = rows != cols  # a drawn stimulus paired with its own copy is 0 by construction
    return compare_vectors(model_rdm[rows[keep], cols[keep]], target[rows[keep], cols[keep]], "spearman")


def _rsa_score_samples(model: _RdmScores, target, half, draws) -> tuple[float, np.ndarray, str]:
    idx = [np.flatnonzero(half == h) for h in (0, 1)]
    on_half = np.array([[_rsa_on(m, target, idx[h]) for m in model.rdms] for h in (0, 1)])
    chosen = [int(np.nanargmax(on_half[1 - h])) if np.isfinite(on_half[1 - h]).any() else 0 for h in (0, 1)]
    point = float(np.mean([on_half[h, chosen[h]] for h in (0, 1)]))
    samples = np.array([np.mean([_rsa_on(model.rdms[chosen[h]], target, idx[h][d[h]]) for h in (0, 1)])
                        for d in draws])
    return point, samples, f"{model.layers[chosen[0]]} | {model.layers[chosen[1]]}"


def _interval(samples: np.ndarray) -> tuple[float, float]:
    ok = samples[np.isfinite(samples)]
    return (float(np.quantile(ok, 0.025)), float(np.quantile(ok, 0.975))) if len(ok) else (np.nan, np.nan)


def with_seeds(estimate: float, seed_groups, samples, level: float = 0.95) -> dict:
    """Interval and two-sided p (of "the expected value is 0") of a mean over seeds, or a
    difference of such means, with the seeds a random sample as well as the images and sites
    (:func:`goaldriven.study.statistics.seeds_and_images`): estimate +- t_df sqrt(v_seeds +
    v_images). ``seed_groups``: the per-seed values whose means make the estimate (one array per
    independent set of seeds: the paired differences; or the trained seeds and, negated,
    another diet's), v_seeds = sum of var / n over them (seeds as the unit); v_images: the
    variance of the estimate over the paired image-and-site resamples (``samples``, seeds
    fixed). df: Welch-Satterthwaite at the 90% upper bound of the seed variance, so few seeds
    widen the interval. Why not the percentile of a hierarchical bootstrap that also redraws
    seeds: with 2-3 seeds it has 3-10 distinct seed draws, its seed variance is (n - 1) / n too
    small and a normal quantile stands where a t belongs (benchmarks/positive_control_coverage.py:
    it covered 0.85 where this interval covers 0.95 or more). NaN without 2 seeds in every group."""
    ok = np.asarray(samples, float)
    ok = ok[np.isfinite(ok)]
    return seeds_and_images(estimate, seed_groups, np.var(ok, ddof=1) if len(ok) >= 2 else np.nan, level)


def _rows(scored: dict, metric_of: dict, controls: list[str]) -> list[dict]:
    """Differences of every trained group against its untrained seeds, each control model and
    (CIFAR-10 networks) the other diet of the same architecture (DIETS).
    ``scored[model][metric] = (point, samples, layers)``."""
    rows = []
    groups = {}
    for model in scored:
        if model.split("/")[0] in controls:
            continue
        arch, task, seed = _split(model)
        if task in CONTROL_OF:
            groups.setdefault((arch, task), []).append(seed)
    for (arch, task), seeds in sorted(groups.items()):
        seeds = sorted(seeds)
        untrained = [f"{arch}/{CONTROL_OF[task]}_seed{s}" for s in seeds]
        comparisons = []  # (name, the models whose mean score is the comparison's, how seeds pair)
        if all(m in scored for m in untrained):
            comparisons.append(("untrained (same seed)", untrained, "paired"))
        else:
            log.warning("%s/%s: not every seed has its untrained control (%s); no trained-untrained rows",
                        arch, task, ", ".join(m for m in untrained if m not in scored))
        for c in controls:
            ids = [m for m in scored if m.split("/")[0] == c]
            if len(ids) != 1:
                raise InputError(f"control {c!r}: expected one model, found {ids}")
            comparisons.append((c, ids, "none"))
        for other_task in (t for t in DIETS.get(task, ()) if (arch, t) in groups):
            # another diet of the same architecture: the mean over its own seeds (not paired by seed)
            comparisons.append((f"{other_task} diet (same architecture)",
                                [f"{arch}/{other_task}_seed{s}" for s in sorted(groups[(arch, other_task)])],
                                "independent"))
        for metric, (benchmark, region, kind, n_sites, n_images, unit, estimator) in metric_of.items():
            trained = [scored[f"{arch}/{task}_seed{s}"][metric] for s in seeds]
            t_seed = np.array([p for p, _, _ in trained])
            t_point, t_samples = t_seed.mean(), np.mean([x for _, x, _ in trained], axis=0)
            t_ci = with_seeds(t_point, [t_seed], t_samples)
            for name, against, pairing in comparisons:
                other = [scored[m][metric] for m in against]
                c_seed = np.array([p for p, _, _ in other])
                c_point, c_samples = c_seed.mean(), np.mean([x for _, x, _ in other], axis=0)
                diff, d_samples = t_point - c_point, t_samples - c_samples
                # The seeds' part of the difference's variance, by how the two sides' seeds relate.
                seed_groups = ([t_seed - c_seed] if pairing == "paired" else [t_seed] if pairing == "none"
                               else [t_seed, -c_seed])
                d_ci = with_seeds(diff, seed_groups, d_samples)
                c_ci = with_seeds(c_point, [c_seed] if pairing != "none" else [], c_samples)
                dl, dh = _interval(d_samples)
                rows.append({
                    "benchmark": benchmark, "region": region, "score": kind, "n_sites": n_sites,
                    "n_images": n_images, "arch": arch, "task": task, "n_seeds": len(seeds), "comparison": name,
                    "n_seeds_comparison": len(c_seed) if pairing != "none" else 0, "seed_pairing": pairing,
                    "trained": t_point, "trained_low": t_ci["low"], "trained_high": t_ci["high"],
                    "control": c_point, "control_low": c_ci["low"], "control_high": c_ci["high"],
                    "difference": diff, "difference_low": d_ci["low"], "difference_high": d_ci["high"],
                    "difference_df": d_ci["df"], "p_value": d_ci["p"],
                    "excludes_zero": bool(d_ci["low"] > 0 or d_ci["high"] < 0),
                    "difference_seeds_fixed_low": dl, "difference_seeds_fixed_high": dh,
                    "trained_layers": "; ".join(l for _, _, l in trained),
                    "selection": SELECTION.format(unit=unit) if unit else IN_SAMPLE,
                    "r_estimator": estimator,
                    "resampling": RESAMPLING, "resampling_seeds_fixed": RESAMPLING_SEEDS_FIXED})
    return rows


SCORE_NAMES = {"ev": "ceiling-normalised EV (sites with a ceiling)", "r": "median r (all sites)",
               "r2": "signed r² (raw; no ceiling)", "rsa": "RSA (Spearman of 1 - Pearson RDMs)"}


def positive_control_table(score_paths=(), rdm_features=(), rdms_path=None, controls=(), n_boot: int = 1000,
                           seed: int = 0, rdm_benchmark: str = "") -> pd.DataFrame:
    """The positive-control table (module docstring). ``score_paths``: predictivity score files
    (``goaldriven score``, with held-out predictions) of every model; ``rdm_features``: features
    files of every model on the stimuli of ``rdms_path`` (published RDMs); ``controls``: model
    names (the ARCH part of NAME/external_seed0) used as controls, e.g. pixels and a V1 model.
    Score files may also be given as datasets (as :func:`goaldriven.score.score_model` returns)."""
    scored, metric_of = {}, {}
    by_benchmark = {}
    for path in score_paths:
        s = _SiteScores(path)
        by_benchmark.setdefault(s.benchmark, []).append(s)
    for benchmark, models in by_benchmark.items():
        ref = models[0]
        for s in models[1:]:
            if s.key != ref.key:
                raise InputError(f"{s.path}: not the same images and sites as {ref.path} (benchmark {benchmark})")
            if s.estimator != ref.estimator:  # a difference of a ridge and a PLS score measures the mapping
                raise InputError(f"{s.path}: scored with another comparison.method than {ref.path} (benchmark {benchmark})")
        for region, kind, masks in _site_metrics(ref):
            metric = (benchmark, region, kind)
            draws = _site_draws(ref.blocks, masks, n_boot, seed)
            n_images = len({i for b, m in zip(ref.blocks, masks) if m.any() for i in b["ids"]})
            split = _half_masks(ref.blocks, masks)[1]
            if not split:
                log.warning("%s %s %s: the sites lie in one half; the layer is chosen on the sites it is scored on",
                            benchmark, region, kind)
            metric_of[metric] = (benchmark, region, SCORE_NAMES[kind], int(sum(m.sum() for m in masks)), n_images,
                                 "sites" if split else None, ref.estimator)
            for s in models:
                scored.setdefault(s.model, {})[metric] = _site_score_samples(s, kind, masks, draws)
            log.info("%s %s %s: %d models scored with %d resamples", benchmark, region, kind, len(models), n_boot)
    if rdm_features:
        if rdms_path is None:
            raise InputError("positive control: RDM features given without the benchmark's rdms.nc")
        rdms = open_netcdf(rdms_path)
        ids, is_neural = rdm_parts(rdms, rdms_path)
        half = image_halves(ids)
        rng = np.random.default_rng(seed + 1)
        draws = [[rng.integers(0, (half == h).sum(), (half == h).sum()) for h in (0, 1)] for _ in range(n_boot)]
        models = [_RdmScores(p, ids) for p in rdm_features]
        benchmark = rdm_benchmark or str(rdms_path)
        for k in np.flatnonzero(is_neural):
            area = str(rdms["source"].values[k])
            metric = (benchmark, area, "rsa")
            metric_of[metric] = (benchmark, area, SCORE_NAMES["rsa"], np.nan, len(ids), "images", "")
            for m in models:
                scored.setdefault(m.model, {})[metric] = _rsa_score_samples(m, rdms.values[k], half, draws)
            log.info("%s %s: %d models scored with %d resamples", benchmark, area, len(models), n_boot)
    missing = [(m, metric) for m in scored for metric in metric_of if metric not in scored[m]]
    if missing:
        raise InputError(f"model {missing[0][0]} has no score for {missing[0][1]}; give every model on every benchmark")
    absent = [c for c in controls if not any(m.split("/")[0] == c for m in scored)]
    if absent:
        raise InputError(f"controls {absent} have no scores among the inputs")
    table = pd.DataFrame(_rows(scored, metric_of, list(controls)))
    if len(table):  # one family: every row of the table
        table.insert(table.columns.get_loc("p_value") + 1, "p_adjusted", holm(table["p_value"]))
        table.insert(table.columns.get_loc("p_adjusted") + 1, "p_family",
                     P_FAMILY.format(n=int(table["p_value"].notna().sum())))
        table.insert(table.columns.get_loc("excludes_zero") + 1, "survives_holm", table["p_adjusted"] < 0.05)
    return table
