"""Score one model's layers against one benchmark (files in, file out).

Site responses (``score_model``): per layer, cross-validated ridge predictivity of every site
(Pearson r on held-out images), ceiling-normalised explained variance where single trials give
a split-half ceiling, and RSA of the layer's RDM with each area's RDM. Assemblies that merge
recording sessions (different neurons on different images) are scored session by session.

Published RDMs (``score_rdms``): per layer, the layer's RDM against each RDM of the benchmark
on all its stimuli (Spearman, Kendall's tau-a), each with a bootstrap interval over stimuli,
and on each half of the stimuli (held-out layer choice). No noise ceiling for published RDMs:
Kriegeskorte et al. 2008's file holds one RDM per area (monkey IT pooled over 674 neurons,
human IT over 316 voxels of the group), not the per-subject RDMs that Nili et al. 2014's lower
and upper bounds need, so none is computed or invented.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import xarray as xr

from ..core.io import open_netcdf
from ..core.options import ScoringSpec
from ..models.features import layer_matrix, layer_order, open_features
from .mapping import explained_variance
from .methods import POOL_BELOW, neural_predictivity, scoring_method
from ..data.assemblies import (SESSION_COORDS, average_repetitions, canonical_presentations, load_assembly, rdm_parts,
                               trials_array)
from .rsa import RankedRDM, bootstrap_rdm_comparison, compare_rdms, rdm, rdm_noise_ceiling, repetition_split_rdms
from ..data.stimulus_ids import canonical_order, image_halves, rows_by_stimulus_id, rows_of

log = logging.getLogger(__name__)

def _half_index(ids) -> list[np.ndarray]:
    """Row indices of the two halves of the stimuli (:func:`image_halves`, by id)."""
    half = image_halves(ids)
    return [np.flatnonzero(half == h) for h in (0, 1)]


def _blocks(responses: xr.DataArray):
    """(presentation indices, neuroid indices) of each recording session; one block if unsplit."""
    p_name, n_name = SESSION_COORDS["presentation"], SESSION_COORDS["neuroid"]
    if p_name not in responses.coords or n_name not in responses.coords:
        yield np.arange(responses.sizes["presentation"]), np.arange(responses.sizes["neuroid"])
        return
    p_sess, n_sess = responses[p_name].values, responses[n_name].values
    for s in dict.fromkeys(n_sess.tolist()):
        yield np.flatnonzero(p_sess == s), np.flatnonzero(n_sess == s)


def _per_neuroid(responses: xr.DataArray, trials: xr.DataArray | None, values: np.ndarray, rows: int) -> np.ndarray:
    """(rows, neuroid of ``responses``) from ``values`` (rows, neuroid of ``trials``), matched by
    ``neuroid_id``; NaN for a neuroid without single trials."""
    out = np.full((rows, responses.sizes["neuroid"]), np.nan)
    if trials is None:
        return out
    where = {n: i for i, n in enumerate(responses["neuroid_id"].values)}
    for j, n in enumerate(trials["neuroid_id"].values):
        if n in where:
            out[:, where[n]] = values[:, j]
    return out


def _rsa_ceilings(trials: xr.DataArray | None, reps, trial_ids, blocks, regions: list[str],
                  seed: int) -> np.ndarray:
    """(lower, upper) RDM noise ceiling per region from two disjoint halves of the repetitions
    (Nili et al. 2014), session by session like the RSA it bounds (each session's sites on that
    session's images), then averaged over the sessions that have single trials; NaN without
    any. Half-data RDMs are noisier than the full mean's, so these bounds are conservative."""
    out = np.full((len(regions), 2), np.nan)
    if trials is None:
        return out
    trial_sites, trial_region = trials["neuroid_id"].values, trials["region"].values
    per_region = {g: [] for g in regions}
    for _, _, block in blocks:
        stimuli = np.isin(trial_ids, block["stimulus_id"].values)
        in_block = np.isin(trial_sites, block["neuroid_id"].values)
        for g in regions:
            sites = in_block & (trial_region == g)
            if sites.any() and stimuli.sum() > 2:
                per_region[g].append(rdm_noise_ceiling(
                    repetition_split_rdms(reps[:, stimuli][:, :, sites], n_groups=2, seed=seed)))
    for k, g in enumerate(regions):
        if per_region[g]:
            out[k] = np.mean(per_region[g], axis=0)
    return out


def _ranked_targets(area_rdm: np.ndarray, halves) -> list[RankedRDM]:
    """An area's RDM on all the block's images and on each half of them, ranked once for the
    Spearman comparisons with every layer's."""
    return [RankedRDM(area_rdm)] + [RankedRDM(area_rdm[np.ix_(h, h)]) for h in halves]


def score_model(features_path, recordings_path, trials_path=None, spec: ScoringSpec = ScoringSpec(),
                benchmark: str = "", progress: bool = True, timings: dict | None = None) -> xr.Dataset:
    """Every layer of one model against one benchmark of sites, by the scoring method of
    ``spec`` (:mod:`goaldriven.compare.methods`): ``ridge``, goaldriven's mapping (ridge, k folds
    seeded by ``spec.seed``, split-half ceilings); ``pls``, Brain-Score's protocol and defaults
    throughout, with ``r_split``/``ceiling_split`` stored so that :mod:`goaldriven.study.summary`
    aggregates as Brain-Score does.

    ``progress``: log the folds done (every layer, session and fold, with the time left) at most
    every ~10 s (:mod:`goaldriven.core.progress`). ``timings``: a dict to add the seconds spent
    in each phase to (``ridge <layer>``, ``rsa``), e.g. for ``benchmarks/score_model_speed.py``;
    they are logged with each layer, never written into the scores."""
    from ..core.progress import Progress, duration

    spent = timings if timings is not None else {}
    method = scoring_method(spec)
    splits, seed, split_seed = spec.splits, spec.seed, method.split_seed()
    feats = open_features(features_path)
    # Rows in the canonical order first: the seeded splits (ceilings, RSA ceilings) and every
    # sum over stimuli then see the same array whatever the file's row order.
    recordings = canonical_presentations(load_assembly(recordings_path))
    responses = average_repetitions(recordings)
    if trials_path is not None:
        trials = canonical_presentations(load_assembly(trials_path))
    elif "repetition" in recordings.coords:
        trials = recordings
    else:
        trials = None
    reps, trial_ids = trials_array(trials) if trials is not None else (None, None)  # (n_reps, n_stimuli, n_sites)
    if trials_path is not None:  # ceilings of other stimuli than those scored would bound nothing
        rows_of(trial_ids, responses["stimulus_id"].values, str(recordings_path), str(trials_path))
    ceiling, ceiling_split = np.full(responses.sizes["neuroid"], np.nan), None
    if trials is not None:  # per site of ``responses``; NaN for a site without single trials
        per_site, per_split = method.ceilings(reps, splits)
        ceiling = _per_neuroid(responses, trials, per_site[None], 1)[0]
        if per_split is not None:  # (Brain-Score: summary aggregates these before dividing)
            ceiling_split = _per_neuroid(responses, trials, per_split, splits)
    if method.keeps_splits and ceiling_split is None:
        ceiling_split = np.full((splits, responses.sizes["neuroid"]), np.nan)
    rows = rows_by_stimulus_id(responses, feats, str(recordings_path), str(features_path))
    region = responses["region"].values
    regions = list(dict.fromkeys(region.tolist()))
    blocks = [(p_idx, n_idx, responses.isel(presentation=p_idx, neuroid=n_idx)) for p_idx, n_idx in _blocks(responses)]
    # Each block's area RDMs (on all its images and on each half), computed and ranked once
    # rather than once per layer.
    t0 = time.perf_counter()
    area_rdms = []
    for _, n_idx, block in blocks:
        halves = _half_index(block["stimulus_id"].values)
        area_rdms.append({g: _ranked_targets(rdm(block.values[:, region[n_idx] == g], ids=block["stimulus_id"].values,
                                                 source=f"{recordings_path} ({g})"), halves)
                          for g in dict.fromkeys(region[n_idx].tolist())})
    spent["rsa"] = spent.get("rsa", 0.0) + time.perf_counter() - t0

    layers = layer_order(feats)
    r = np.full((len(layers), responses.sizes["neuroid"]), np.nan)
    rsa = np.full((len(layers), len(regions)), np.nan)
    rsa_half = np.full((2, len(layers), len(regions)), np.nan)
    # Held-out predictions of every (stimulus, site) pair that was recorded, one entry each,
    # session by session: what image-resampled intervals of any score are computed from.
    entries = [(b, canonical_order(block["stimulus_id"].values)) for b, (_, _, block) in enumerate(blocks)]
    n_entries = sum(len(order) * len(n_idx) for (_, n_idx, _), (_, order) in zip(blocks, entries))
    prediction = np.full((len(layers), n_entries), np.nan, np.float32)
    # A split of fewer than POOL_BELOW stimuli gives a noisy, biased r of its own: the r of the
    # predictions pooled over the splits is the estimate there (Kalfas: 64 shapes). Decided once
    # for the benchmark (its smallest session), so one region's sites share one estimator.
    # Brain-Score mode keeps Brain-Score's estimator whatever the fold size.
    use_pooled = method.pools_small_folds and min(len(p_idx) for p_idx, _, _ in blocks) // splits < POOL_BELOW
    r_split = np.full((len(layers), splits, responses.sizes["neuroid"]), np.nan) if method.keeps_splits else None
    # Progress in folds: each layer and session is `splits` ridge folds and one RSA step.
    bar = Progress(f"scoring {feats.attrs.get('model', '')} ({len(layers)} layers x {len(blocks)} sessions x "
                   f"({splits} folds + RSA), {responses.sizes['neuroid']} sites)",
                   len(layers) * len(blocks) * (splits + 1), unit="steps", enabled=progress)
    for i, layer in enumerate(layers):
        x = layer_matrix(feats, layer)
        per_region = {g: [] for g in regions}
        start = 0
        ridge_s = rsa_s = 0.0
        for b, ((p_idx, n_idx, block), targets, (_, order)) in enumerate(zip(blocks, area_rdms, entries)):
            bar.note = f"layer {i + 1}/{len(layers)} {layer!r}, session {b + 1}/{len(blocks)}"
            t0 = time.perf_counter()
            xb = x.isel(presentation=rows[p_idx])
            fit = neural_predictivity(xb, block, method=method, splits=splits, seed=split_seed, on_fold=bar.advance)
            r[i, n_idx] = (fit["r_pooled"] if use_pooled else fit["r"]).values
            if method.keeps_splits:
                r_split[i][:, n_idx] = fit["r_split"].values
            if not np.array_equal(fit["stimulus_id"].values, block["stimulus_id"].values[order]):
                raise AssertionError("held-out predictions are not in the canonical stimulus order")
            size = len(order) * len(n_idx)
            prediction[i, start:start + size] = fit["prediction"].values.ravel()
            start += size
            t1 = time.perf_counter()
            ridge_s += t1 - t0
            layer_rdm = rdm(xb.values, ids=xb["stimulus_id"].values, source=f"{features_path} ({layer})")
            halves = _half_index(xb["stimulus_id"].values)
            for g, (full, *half_targets) in targets.items():  # compare_rdms(layer_rdm, target), ranked once
                per_region[g].append([full.spearman(layer_rdm)]
                                     + [t.spearman(layer_rdm[np.ix_(h, h)]) for h, t in zip(halves, half_targets)])
            rsa_s += time.perf_counter() - t1
            bar.advance()
        # Mean over sessions, on all images and on each half of them: (3, regions).
        means = np.array([np.mean(per_region[g], axis=0) for g in regions]).T
        rsa[i], rsa_half[:, i] = means[0], means[1:]
        spent[f"ridge {layer}"] = spent.get(f"ridge {layer}", 0.0) + ridge_s
        spent["rsa"] = spent.get("rsa", 0.0) + rsa_s
        log.info("%s %s (%d/%d): median r %s (ridge %s, RSA %s)", feats.attrs.get("model"), layer, i + 1,
                 len(layers), {g: round(float(np.nanmedian(r[i, region == g])), 3) for g in regions},
                 duration(ridge_s), duration(rsa_s))
    bar.close()
    ev = explained_variance(r, ceiling)
    rsa_ceiling = _rsa_ceilings(trials, reps, trial_ids, blocks, regions, seed)
    neuroid_coords = {c: ("neuroid", responses[c].values) for c in ("neuroid_id", "region")}
    entry_stimulus, entry_neuroid, entry_block, observed = [], [], [], []
    for (_, n_idx, block), (b, order) in zip(blocks, entries):
        ids = block["stimulus_id"].values[order]
        entry_block.append(np.full(len(ids) * len(n_idx), b))
        entry_stimulus.append(np.repeat(ids, len(n_idx)))
        entry_neuroid.append(np.tile(responses["neuroid_id"].values[n_idx], len(ids)))
        observed.append(block.values[order].ravel())
    ds = xr.Dataset(
        {"r": (("layer", "neuroid"), r), "ev": (("layer", "neuroid"), ev),
         "ceiling": ("neuroid", ceiling), "rsa": (("layer", "area"), rsa),
         "rsa_half": (("half", "layer", "area"), rsa_half),
         "rsa_ceiling_low": ("area", rsa_ceiling[:, 0]), "rsa_ceiling_high": ("area", rsa_ceiling[:, 1]),
         "prediction": (("layer", "entry"), prediction),
         "observed": ("entry", np.concatenate(observed).astype(np.float32))},
        coords={"layer": layers, "layer_index": ("layer", np.arange(len(layers))), "area": regions,
                **neuroid_coords, "entry_stimulus_id": ("entry", np.concatenate(entry_stimulus).astype(str)),
                "entry_neuroid_id": ("entry", np.concatenate(entry_neuroid).astype(str)),
                "entry_session": ("entry", np.concatenate(entry_block))})
    if method.keeps_splits:  # what Brain-Score aggregates: per split, then over splits (goaldriven.brainscore)
        ds["r_split"] = (("layer", "split", "neuroid"), r_split)
        ds["ceiling_split"] = (("split", "neuroid"), ceiling_split)
    ds.attrs.update({"model": feats.attrs.get("model", ""), "benchmark": benchmark, "kind": "predictivity",
                     "features": str(features_path), "recordings": str(recordings_path),
                     "trials": str(trials_path or ""), "splits": splits, "seed": seed, "split_seed": split_seed, "n_sessions": len(blocks),
                     "method": method.name, "convention": method.convention(splits),
                     "input_size": int(feats.attrs.get("input_size", 0)),
                     **method.describe(use_pooled),
                     "rsa": "Spearman of 1 - Pearson RDMs over the benchmark's images (mean over sessions); "
                            "RDM noise ceiling from two halves of the repetitions (Nili et al. 2014), per session, "
                            "mean over the sessions with single trials",
                     "simulated": int(recordings.attrs.get("simulated", 0)),
                     **{k: v for k, v in recordings.attrs.items() if k.startswith("ground_truth_")}})
    return ds


def score_rdms(features_path, rdms_path, n_boot: int = 100, seed: int = 0, benchmark: str = "") -> xr.Dataset:
    """Each layer's RDM against each published RDM; reference (model) RDMs against the neural ones."""
    feats = open_features(features_path)
    rdms = open_netcdf(rdms_path)
    ids, is_neural = rdm_parts(rdms, rdms_path)
    rows = rows_of(ids, feats["stimulus_id"].values, str(features_path), str(rdms_path))
    neural = np.flatnonzero(is_neural)
    sources = [str(rdms["source"].values[i]) for i in neural]
    layers = layer_order(feats)
    shape = (len(layers), len(neural))
    rho, tau, low, high, tau_low, tau_high = (np.full(shape, np.nan) for _ in range(6))
    halves = _half_index(ids)
    rho_half = np.full((2,) + shape, np.nan)
    half_boot = np.full((2,) + shape + (n_boot,), np.nan, np.float32)
    for i, layer in enumerate(layers):
        layer_rdm = rdm(layer_matrix(feats, layer).values[rows], ids=ids, source=f"{features_path} ({layer})")
        for j, k in enumerate(neural):
            target = rdms.values[k]
            rho[i, j] = compare_rdms(layer_rdm, target, method="spearman")
            rho_half[:, i, j] = [compare_rdms(layer_rdm[np.ix_(h, h)], target[np.ix_(h, h)]) for h in halves]
            tau[i, j] = compare_rdms(layer_rdm, target, method="kendall_tau_a")
            if n_boot:
                boot = bootstrap_rdm_comparison(layer_rdm, target, method="spearman", n_boot=n_boot, seed=seed)
                low[i, j], high[i, j] = np.nanpercentile(boot, [2.5, 97.5])
                boot = bootstrap_rdm_comparison(layer_rdm, target, method="kendall_tau_a", n_boot=n_boot, seed=seed)
                tau_low[i, j], tau_high[i, j] = np.nanpercentile(boot, [2.5, 97.5])
                # the same resamples of each half for every layer and model (seeded by the half),
                # so a held-out choice of layer gets its interval (goaldriven.leaderboard)
                for k, h in enumerate(halves):
                    half_boot[k, i, j] = bootstrap_rdm_comparison(layer_rdm[np.ix_(h, h)], target[np.ix_(h, h)],
                                                                  method="spearman", n_boot=n_boot, seed=seed + 1 + k)
        log.info("%s %s (%d/%d): Spearman %s", feats.attrs.get("model"), layer, i + 1, len(layers),
                 dict(zip(sources, np.round(rho[i], 3))))
    references = np.flatnonzero(~is_neural)
    ref = np.array([[compare_rdms(rdms.values[a], rdms.values[b], method="spearman") for b in neural]
                    for a in references]).reshape(len(references), len(neural))
    return xr.Dataset(
        {"rsa": (("layer", "area"), rho), "rsa_half": (("half", "layer", "area"), rho_half),
         "rsa_half_boot": (("half", "layer", "area", "bootstrap"), half_boot),
         "rsa_kendall_tau_a": (("layer", "area"), tau),
         "rsa_kendall_tau_a_low": (("layer", "area"), tau_low), "rsa_kendall_tau_a_high": (("layer", "area"), tau_high),
         "rsa_low": (("layer", "area"), low), "rsa_high": (("layer", "area"), high),
         "reference_rsa": (("reference", "area"), ref)},
        coords={"layer": layers, "layer_index": ("layer", np.arange(len(layers))), "area": sources,
                "reference": [str(rdms["source"].values[i]) for i in references]},
        attrs={"model": feats.attrs.get("model", ""), "benchmark": benchmark, "kind": "rdms",
               "input_size": int(feats.attrs.get("input_size", 0)),
               "features": str(features_path), "rdms": str(rdms_path), "bootstraps": n_boot, "seed": seed,
               "n_stimuli": len(ids),
               "rsa": "Spearman (and Kendall tau-a) of the layer's 1 - Pearson RDM with each published RDM on "
                      "all the stimuli, each with a 95% interval from resampling stimuli; no noise ceiling (one "
                      "RDM per area, no per-subject RDMs); rsa_half: on each half of the stimuli "
                      "(goaldriven.stimulus_ids.image_halves), to choose the layer on one and score it on the other"})
