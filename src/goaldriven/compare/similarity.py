"""Model x model similarity: is a seed as far from another seed as from another architecture?

Debiased linear CKA (the unbiased HSIC of Song et al. 2012, as in Kornblith et al. 2019)
between every pair of (model, layer) on one benchmark's stimuli, with a shuffled-image null;
raw pixels enter as a pseudo-model ``pixels`` with one layer (the floor of every similarity).
Each (model, layer) becomes one n x n Gram matrix, U-centred (Szekely & Rizzo 2014) once, so
that every pair is a dot product and a shuffle of the images is a gather of one matrix: all
pairs and permutations cost ``M^2 n^2`` per shuffle for M layers in all, whatever their width.

Three tables: every pair (:func:`similarity_table`, with each pair's CKA on the images less
one group, for the images' part of the intervals), cross-seed against cross-architecture
similarity at matched relative depth and that gap against the untrained networks' gap, with
intervals over networks (delete-one jackknife) and images (delete-a-group jackknife)
(:func:`similarity_summary`), and Kornblith's layer-correspondence test (:func:`correspondence`).
"""

from __future__ import annotations

import logging
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from ..core.io import InputError
from ..core.registry import MODEL_KINDS

log = logging.getLogger(__name__)
PIXELS = "pixels"
IMAGE_GROUPS = 10  # groups of images of the delete-a-group jackknife over images
DROP = "cka_drop_images_"  # similarity-table columns: debiased CKA without one group of images
UNTRAINED_OF = {k: spec.untrained for k, spec in MODEL_KINDS.items() if spec.untrained}


def u_centre(K: np.ndarray) -> np.ndarray:
    """The U-centred Gram matrix: <U(K), U(L)> / (n (n - 3)) is the unbiased HSIC of K and L."""
    n = len(K)
    if n < 4:
        raise InputError(f"debiased CKA needs at least 4 stimuli, not {n}")
    K = np.array(K, dtype=np.float64)
    np.fill_diagonal(K, 0)
    row = K.sum(axis=0) / (n - 2)
    U = K - row[:, None] - row[None, :] + K.sum() / ((n - 1) * (n - 2))
    np.fill_diagonal(U, 0)
    return U


def _gram(X) -> np.ndarray:
    """Linear Gram matrix of column-centred X (float32 product: the wide layers dominate)."""
    X = np.asarray(X, dtype=np.float32)
    X = X - X.mean(axis=0, dtype=np.float64).astype(np.float32)
    return (X @ X.T).astype(np.float64)


class Grams:
    """The stacked Gram matrices of many (model, layer)s, over the same stimuli in one order.

    Keeps the upper triangle of each U-centred Gram (debiased CKA, float64), the unit-norm
    centred Gram (biased CKA, float32) and the upper triangle of the Gram itself (float32, for
    :meth:`image_jackknife`): about 10 n^2 bytes per layer for n stimuli.
    """

    def __init__(self, n: int):
        self.n = n
        self.iu = np.triu_indices(n, k=1)
        self.keys: list[tuple] = []
        self._u, self._b, self._k = [], [], []

    def add(self, key: tuple, X) -> None:
        X = np.asarray(X)
        if len(X) != self.n:
            raise InputError(f"{key}: {len(X)} stimuli, expected {self.n}")
        K = _gram(X.reshape(len(X), -1))
        self.keys.append(key)
        self._u.append(u_centre(K)[self.iu])
        self._k.append(K[self.iu].astype(np.float32))  # for the image jackknife (U-centring needs no diagonal)
        norm = np.linalg.norm(K)
        self._b.append((K / norm if norm > 0 else K * np.nan).ravel().astype(np.float32))

    def matrices(self, n_permutations: int = 100, seed: int = 0):
        """(biased CKA, debiased CKA, null mean, null 95th percentile), each M x M; the null
        shuffles the images of the second (column) layer, the same shuffles for every pair."""
        U, B = np.stack(self._u), np.stack(self._b)
        biased = (B @ B.T).astype(np.float64)
        self_hsic = np.einsum("ij,ij->i", U, U)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = 1 / np.sqrt(np.where(self_hsic > 0, self_hsic, np.nan))
        Us = (U * scale[:, None])
        debiased = Us @ Us.T
        # Position in the upper triangle of every (i, j), i != j, to gather a shuffled matrix.
        n = self.n
        index = np.full((n, n), -1, dtype=np.int64)
        index[self.iu] = np.arange(len(self.iu[0]))
        index = np.maximum(index, index.T)
        rng = np.random.default_rng(seed)
        Us32 = Us.astype(np.float32)
        null = np.empty((n_permutations, *debiased.shape), dtype=np.float32)
        for k in range(n_permutations):
            p = rng.permutation(n)
            null[k] = Us32 @ Us32[:, index[p[self.iu[0]], p[self.iu[1]]]].T
        return biased, debiased, null.mean(axis=0), np.percentile(null, 95, axis=0)


    def image_jackknife(self, groups: int = 10, seed: int = 0) -> np.ndarray:
        """Debiased CKA of every pair with one group of images left out, (groups, M, M): the
        images are dealt into ``groups`` seeded groups of (nearly) equal size. U-centring the
        Gram of the kept images is what centring their features would give (it removes any
        f(i) + g(j)), so the Gram of the full set serves every subset."""
        group = np.random.default_rng([seed, 1]).permutation(self.n) % groups
        out = np.empty((groups, len(self.keys), len(self.keys)))
        K = np.zeros((self.n, self.n))
        for g in range(groups):
            keep = np.flatnonzero(group != g)
            iu = np.triu_indices(len(keep), k=1)
            U = np.empty((len(self.keys), len(iu[0])), np.float32)
            for i, tri in enumerate(self._k):
                K[self.iu] = tri
                K.T[self.iu] = tri
                u = u_centre(K[np.ix_(keep, keep)])[iu]
                norm = np.sqrt(u @ u)
                U[i] = u / norm if norm > 0 else np.nan
            out[g] = U @ U.T
        return out


def _model_parts(model: str) -> tuple[str, str, int]:
    arch, rest = model.split("/")
    task, seed = rest.rsplit("_seed", 1)
    return arch, task, int(seed)


def _comparison(a: dict, b: dict) -> str:
    if PIXELS in (a["arch"], b["arch"]):
        return "pixels"
    if a["arch"] == b["arch"]:
        return "cross_seed" if a["task"] == b["task"] else "cross_task"
    return "cross_arch" if a["task"] == b["task"] else "other"


def collect_grams(feature_paths, stimuli=None, max_stimuli: int = 1000, seed: int = 0) -> tuple[Grams, list[dict]]:
    """Grams of every layer of every features file (and of the stimuli's pixels), all rows in
    the first file's stimulus order (paired by ``stimulus_id``), and a description per layer.
    With more than ``max_stimuli`` stimuli a seeded subset of them is used (memory and time
    grow with the square of the number of stimuli)."""
    from ..models.features import layer_matrix, layer_order, open_features
    from ..data.stimulus_ids import align_by_stimulus_id

    paths = list(feature_paths)
    if not paths:
        raise InputError("no features files")
    ref = open_features(paths[0])
    n = ref.sizes["presentation"]
    rows = slice(None) if n <= max_stimuli else np.sort(np.random.default_rng(seed).choice(n, max_stimuli, replace=False))
    if n > max_stimuli:
        log.info("%s: %d stimuli, similarity on a seeded subset of %d", paths[0], n, max_stimuli)
    grams, info = Grams(len(np.arange(n)[rows])), []
    for path in paths:
        da = open_features(path)
        try:
            arch, task, seed = _model_parts(da.attrs["model"])
        except (KeyError, ValueError):
            raise InputError(f"{path}: attribute model={da.attrs.get('model')!r} is not 'arch/task_seedN'") from None
        _, da = align_by_stimulus_id(ref, da, str(paths[0]), str(path))
        layers = layer_order(da)
        for index, layer in enumerate(layers):
            grams.add((da.attrs["model"], layer), layer_matrix(da, layer).values[rows])
            info.append({"model": da.attrs["model"], "arch": arch, "task": task, "seed": seed, "layer": layer,
                         "layer_index": index, "depth": index / max(len(layers) - 1, 1)})
        del da
    if stimuli is not None:
        from ..data.stimulus_sets import load_stimulus_set

        pixels = stimuli if hasattr(stimuli, "dims") else load_stimulus_set(stimuli)
        source = "<stimuli>" if hasattr(stimuli, "dims") else str(stimuli)
        _, pixels = align_by_stimulus_id(ref, pixels, str(paths[0]), source)
        grams.add((PIXELS, PIXELS), pixels.values.astype(np.float32).reshape(n, -1)[rows])
        info.append({"model": PIXELS, "arch": PIXELS, "task": PIXELS, "seed": 0, "layer": PIXELS,
                     "layer_index": 0, "depth": 0.0})
    return grams, info


def similarity_table(feature_paths, stimuli=None, n_permutations: int = 100, seed: int = 0,
                     max_stimuli: int = 1000, image_groups: int = IMAGE_GROUPS) -> pd.DataFrame:
    """Biased and debiased linear CKA between every layer of every pair of distinct models
    (and raw pixels), with the debiased CKA's null over ``n_permutations`` image shuffles:
    ``null_mean`` (near 0 by construction) and ``null_p95``; ``comparison`` says what differs
    (cross_seed, cross_arch, cross_task, other, pixels). ``cka_drop_images_<g>``: the debiased
    CKA with the g-th of ``image_groups`` groups of images left out (:meth:`Grams.image_jackknife`),
    from which :func:`similarity_summary` adds the images' part to its intervals."""
    grams, info = collect_grams(feature_paths, stimuli, max_stimuli, seed)
    biased, debiased, null_mean, null_p95 = grams.matrices(n_permutations, seed)
    drops = grams.image_jackknife(image_groups, seed) if image_groups >= 2 else np.empty((0, 0, 0))
    models = list(dict.fromkeys(i["model"] for i in info))
    by_model = {m: [k for k, i in enumerate(info) if i["model"] == m] for m in models}
    rows = []
    for ma, mb in combinations(models, 2):
        for i in by_model[ma]:
            for j in by_model[mb]:
                a, b = info[i], info[j]
                rows.append({**{f"{k}_a": v for k, v in a.items()}, **{f"{k}_b": v for k, v in b.items()},
                             "comparison": _comparison(a, b), "cka": biased[i, j], "cka_debiased": debiased[i, j],
                             "null_mean": null_mean[i, j], "null_p95": null_p95[i, j],
                             "n_stimuli": grams.n, "n_permutations": n_permutations,
                             **{f"{DROP}{g}": drops[g, i, j] for g in range(len(drops))}})
    return pd.DataFrame(rows)


def _layers(sim: pd.DataFrame, side: str, model: str) -> list[str]:
    d = sim[sim[f"model_{side}"] == model].drop_duplicates(f"layer_{side}").sort_values(f"layer_index_{side}")
    return list(d[f"layer_{side}"])


def layer_square(sim: pd.DataFrame, ma: str, mb: str, value: str = "cka_debiased") -> pd.DataFrame:
    """Layers of ``ma`` x layers of ``mb`` (either order in the table)."""
    d = sim[(sim["model_a"] == ma) & (sim["model_b"] == mb)]
    if len(d):
        return d.pivot(index="layer_a", columns="layer_b", values=value).loc[_layers(sim, "a", ma), _layers(sim, "b", mb)]
    d = sim[(sim["model_a"] == mb) & (sim["model_b"] == ma)]
    if not len(d):
        raise InputError(f"no similarity rows between {ma} and {mb}")
    return d.pivot(index="layer_b", columns="layer_a", values=value).loc[_layers(sim, "b", ma), _layers(sim, "a", mb)]


def layer_correspondence(S) -> float:
    """Kornblith et al.'s sanity test: the fraction of layers (rows, then columns) whose most
    similar layer in the other network is the corresponding one (same index)."""
    S = np.asarray(S, dtype=float)
    if S.shape[0] != S.shape[1]:
        raise InputError(f"layer correspondence needs two networks of the same layers, got {S.shape}")
    hits = [np.nanargmax(S[i]) == i for i in range(len(S))] + [np.nanargmax(S[:, j]) == j for j in range(len(S))]
    return float(np.mean(hits))


def _models(sim: pd.DataFrame) -> pd.DataFrame:
    cols = ["model", "arch", "task", "seed"]
    m = pd.concat([sim[[f"{c}_{s}" for c in cols]].set_axis(cols, axis=1) for s in "ab"]).drop_duplicates()
    return m[m["arch"] != PIXELS].sort_values(["arch", "task", "seed"])


def correspondence(sim: pd.DataFrame) -> pd.DataFrame:
    """Per architecture, task and pair of seeds: the fraction of layers that find their own
    counterpart most similar (debiased CKA), in both directions."""
    rows = []
    for (arch, task), g in _models(sim).groupby(["arch", "task"]):
        for (ma, sa), (mb, sb) in combinations(zip(g["model"], g["seed"]), 2):
            S = layer_square(sim, ma, mb)
            rows.append({"arch": arch, "task": task, "seed_a": sa, "seed_b": sb, "n_layers": len(S),
                         "fraction_corresponding": layer_correspondence(S.values),
                         "best_match": ",".join(S.columns[np.nanargmax(S.values, axis=1)])})
    return pd.DataFrame(rows)


def _closest(depths: np.ndarray, depth: float) -> int:
    """The layer of the closest relative depth (ties: the deeper one)."""
    d = np.abs(np.asarray(depths) - depth)
    return int(np.flatnonzero(d == d.min())[-1])


def _values(sim, pairs, layers_a, layers_b, values=("cka_debiased",)) -> np.ndarray:
    """(values, seed pairs, layers): each value of layer i of model a with layer layers_b[i] of model b."""
    out = np.empty((len(values), len(pairs), len(layers_a)))
    for p, (ma, mb) in enumerate(pairs):
        d = sim[(sim["model_a"] == ma) & (sim["model_b"] == mb)]
        keys = ["layer_a", "layer_b"]
        if not len(d):  # the pair the other way round
            d, keys = sim[(sim["model_a"] == mb) & (sim["model_b"] == ma)], ["layer_b", "layer_a"]
        if not len(d):
            raise InputError(f"no similarity rows between {ma} and {mb}")
        out[:, p] = d.set_index(keys)[list(values)].reindex(list(zip(layers_a, layers_b))).to_numpy().T
    return out


def _gap_block(sim, models, task: str, arch: str, other: str, drops: list[str]) -> dict | None:
    """Cross-seed (this architecture's seeds, same layer) and cross-architecture (the other's
    layer of the closest relative depth) debiased CKA of one task, with their delete-one-network
    replicates and, per image group left out, their values; None without 2 seeds and a partner."""
    mine = models[(models["arch"] == arch) & (models["task"] == task)]["model"].tolist()
    theirs = models[(models["arch"] == other) & (models["task"] == task)]["model"].tolist()
    if len(mine) < 2 or not theirs:
        return None
    layers = _layers(sim, "a", mine[0]) or _layers(sim, "b", mine[0])
    other_layers = _layers(sim, "a", theirs[0]) or _layers(sim, "b", theirs[0])
    depth = np.arange(len(layers)) / max(len(layers) - 1, 1)
    other_depth = np.arange(len(other_layers)) / max(len(other_layers) - 1, 1)
    matched = [other_layers[_closest(other_depth, d)] for d in depth]
    seed_pairs = list(combinations(mine, 2))
    arch_pairs = [(a, b) for a in mine for b in theirs]
    cols = ["cka_debiased", "null_p95", *drops]
    vs, va = _values(sim, seed_pairs, layers, layers, cols), _values(sim, arch_pairs, layers, matched, cols)
    rep_s, rep_a = _jackknife(vs[0], va[0], len(mine), len(theirs))
    return {"mine": mine, "layers": layers, "matched": matched, "depth": depth, "m": len(mine), "t": len(theirs),
            "vs": vs[0], "va": va[0], "rep_s": rep_s, "rep_a": rep_a,
            "null": np.concatenate([vs[1], va[1]]).mean(axis=0),
            # per image group left out: the mean over pairs, (groups, layers)
            "img_s": vs[2:].mean(axis=1), "img_a": va[2:].mean(axis=1)}


def similarity_summary(sim: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Cross-seed (same architecture and task, same layer) against cross-architecture (same
    task, the other architecture's layer of the closest relative depth) debiased CKA, per
    layer and averaged over layers (``layer`` = "mean"), the difference cross_seed - cross_arch
    (the gap), and the gap of these networks minus the same gap of their untrained
    initialisations (``difference_vs_untrained``: what learning adds to "a seed is closer than
    another architecture"; ``untrained_gap`` beside it). Intervals (:func:`_interval`) treat
    the networks (seeds: delete-one jackknife, a pair keeps all its layers) and the images
    (delete-a-group jackknife, the table's ``cka_drop_images_*`` columns) as samples; column
    ``resampling`` says which entered. Floors: the mean null 95th percentile, raw pixels and
    the untrained network of the same architecture (same layer)."""
    models = _models(sim)
    drops = sorted((c for c in sim.columns if c.startswith(DROP)), key=lambda c: int(c[len(DROP):]))
    resampling = (f"networks (delete-one jackknife over the seeds of each architecture) and images "
                  f"(delete-a-group jackknife, {len(drops)} groups), variances added; t with the smaller df" if drops else
                  "networks (delete-one jackknife over the seeds of each architecture); images fixed")
    rows = []
    tasks = set(models["task"])
    controls = set(UNTRAINED_OF.values())
    for task in sorted(tasks - controls) + sorted(tasks & controls):  # the untrained controls last
        archs = sorted(models.loc[models["task"] == task, "arch"].unique())
        for arch, other in ((a, b) for a in archs for b in archs if a != b):
            b = _gap_block(sim, models, task, arch, other, drops)
            if b is None:
                continue
            u = _gap_block(sim, models, UNTRAINED_OF[task], arch, other, drops) if task in UNTRAINED_OF else None
            if u is not None and (u["layers"] != b["layers"] or u["matched"] != b["matched"]):
                u = None  # not the same layers: no depth-matched comparison
            layers, m, t = b["layers"], b["m"], b["t"]
            pixels = _floor(sim, b["mine"], layers, PIXELS)
            untrained = (_floor(sim, b["mine"], layers, UNTRAINED_OF[task]) if task in UNTRAINED_OF
                         else np.full(len(layers), np.nan))
            for k, layer in enumerate([*layers, "mean"]):
                def stat(x, k=k):  # the layer's column, or the mean over layers
                    return x[..., k] if k < len(layers) else x.mean(axis=-1)
                s, a = stat(b["vs"].mean(axis=0)), stat(b["va"].mean(axis=0))
                rs, ra, img_s, img_a = (stat(b[x]) for x in ("rep_s", "rep_a", "img_s", "img_a"))
                last = k == len(layers)
                row = {"task": task, "arch": arch, "other_arch": other, "layer": layer,
                       "layer_index": -1 if last else k, "depth": np.nan if last else b["depth"][k],
                       "other_layer": "mean" if last else b["matched"][k],
                       "n_seed_pairs": len(b["vs"]), "n_arch_pairs": len(b["va"]),
                       "cross_seed": s, **_interval("cross_seed", s, [_network_part(rs, m, t)], img_s, level),
                       "cross_arch": a, **_interval("cross_arch", a, [_network_part(ra, m, t)], img_a, level),
                       "difference": s - a,
                       **_interval("difference", s - a, [_network_part(rs - ra, m, t)], img_s - img_a, level)}
                gap_u, dvu = np.nan, {"difference_vs_untrained_low": np.nan, "difference_vs_untrained_high": np.nan}
                if u is not None:
                    su, au = stat(u["vs"].mean(axis=0)), stat(u["va"].mean(axis=0))
                    gap_u = su - au
                    # trained and untrained networks enter as separate samples: a seed's trained
                    # network and its initialisation are likely alike, so this is conservative
                    parts = [_network_part(rs - ra, m, t),
                             _network_part(stat(u["rep_s"]) - stat(u["rep_a"]), u["m"], u["t"])]
                    dvu = _interval("difference_vs_untrained", (s - a) - gap_u, parts,
                                    (img_s - img_a) - (stat(u["img_s"]) - stat(u["img_a"])), level)
                rows.append({**row, "untrained_gap": gap_u, "difference_vs_untrained": (s - a) - gap_u, **dvu,
                             "resampling": resampling, "null_p95": stat(b["null"]), "pixels": stat(pixels),
                             "untrained": stat(untrained)})
    return pd.DataFrame(rows)


def _jackknife(vs, va, m: int, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Delete-one-network replicates of cross-seed and cross-architecture similarity, (m + t,
    layers): the first m leave out a seed of this architecture, the last t one of the other.
    Networks, not pairs, are the resampling unit: pairs share seeds (3 seeds make 3 pairs of 3
    networks), so resampling pairs gives intervals far too narrow."""
    layers = vs.shape[1]
    S = np.full((m, m, layers), np.nan)
    iu = np.triu_indices(m, 1)  # the order of combinations(mine, 2)
    S[iu], S[iu[1], iu[0]] = vs, vs
    A = va.reshape(m, t, layers)  # the order of [(a, b) for a in mine for b in theirs]

    def cross_seed(keep):
        pairs = S[np.ix_(keep, keep)][np.triu_indices(len(keep), 1)]
        return pairs.mean(axis=0) if len(pairs) else np.full(layers, np.nan)

    mine, theirs = np.arange(m), np.arange(t)
    rep_s = [cross_seed(np.delete(mine, i)) for i in range(m)] + [cross_seed(mine)] * t
    rep_a = ([A[np.delete(mine, i)].reshape(-1, layers).mean(axis=0) for i in range(m)]
             + [A[:, np.delete(theirs, j)].reshape(-1, layers).mean(axis=0) for j in range(t)])
    return np.array(rep_s), np.array(rep_a)


def _network_part(replicates: np.ndarray, m: int, t: int) -> tuple[float, float]:
    """(variance, df) of the two-sample delete-one jackknife over networks: the sum over the
    two architectures' seeds of (n - 1) / n x the squared spread of their replicates, with
    min(m, t) - 1 degrees of freedom (m - 1 where the other sample does not enter). Checked by
    simulation (benchmarks/similarity_coverage.py): conservative rather than short."""
    a, b = replicates[:m], replicates[m:]
    spread = sum(((x - x.mean()) ** 2).sum() * (len(x) - 1) / len(x) for x in (a, b))
    df = (m - 1) if np.ptp(b) == 0 else min(m, t) - 1
    return float(spread), float(df)


def _image_part(replicates) -> tuple[float, float]:
    """(variance, df) of the delete-a-group jackknife over G groups of images: (G - 1) / G x
    the squared spread of the G leave-one-group-out values, G - 1 degrees of freedom."""
    r = np.asarray(replicates, float)
    g = len(r)
    return float(((r - r.mean()) ** 2).sum() * (g - 1) / g), float(g - 1)


def _interval(name: str, estimate, network_parts, image_replicates=None, level: float = 0.95) -> dict:
    """estimate +- t_df sqrt(sum of the variances), the parts being the networks' (one per
    independent set of networks, :func:`_network_part`) and, given replicates, the images'
    (:func:`_image_part`); df the smallest of the parts' (conservative). NaN where a part
    cannot be estimated (a set of 2 seeds has no cross-seed pair left to leave one out)."""
    parts = list(network_parts)
    if image_replicates is not None and np.size(image_replicates) >= 2:
        parts.append(_image_part(image_replicates))
    v = sum(x for x, _ in parts)
    if any(df < 1 or not np.isfinite(x) for x, df in parts) or not np.isfinite(estimate):
        return {f"{name}_low": np.nan, f"{name}_high": np.nan}
    # The smallest df of the parts, not Welch-Satterthwaite's: that one grows when a small image
    # part joins a 2-df network part, and the interval would narrow as a source of error is added.
    half = stats.t.ppf(0.5 + level / 2, min(df for _, df in parts)) * np.sqrt(v)
    bound = 1.0 if name.startswith("cross") else 2.0 if name == "difference" else 4.0  # cosines: within [-1, 1]
    return {f"{name}_low": float(max(estimate - half, -bound)), f"{name}_high": float(min(estimate + half, bound))}


def _ci(name: str, estimate, replicates: np.ndarray, m: int, t: int, level: float = 0.95) -> dict:
    """The networks-only interval (images fixed) of :func:`_interval`."""
    return _interval(name, estimate, [_network_part(replicates, m, t)], None, level)


def _floor(sim, mine, layers, what) -> np.ndarray:
    """Mean debiased CKA of each layer with pixels, or with the same layer of the untrained
    networks of the architecture (all seed combinations); NaN where absent."""
    out = []
    for layer in layers:
        if what == PIXELS:
            d = sim[((sim["model_a"].isin(mine)) & (sim["layer_a"] == layer) & (sim["arch_b"] == PIXELS))]
        else:
            arch = sim.loc[sim["model_a"].isin(mine), "arch_a"].iloc[0] if sim["model_a"].isin(mine).any() \
                else sim.loc[sim["model_b"].isin(mine), "arch_b"].iloc[0]
            ab = (sim["model_a"].isin(mine) & (sim["layer_a"] == layer) & (sim["arch_b"] == arch)
                  & (sim["task_b"] == what) & (sim["layer_b"] == layer))
            ba = (sim["model_b"].isin(mine) & (sim["layer_b"] == layer) & (sim["arch_a"] == arch)
                  & (sim["task_a"] == what) & (sim["layer_a"] == layer))
            d = sim[ab | ba]
        out.append(d["cka_debiased"].mean() if len(d) else np.nan)
    return np.array(out)


def depth_matched(sim: pd.DataFrame) -> pd.DataFrame:
    """Tidy rows for figures: for every model's layer, its debiased CKA with the same layer of
    the other seeds (``reference`` = "cross-seed"), with the layer of closest relative depth of
    each other architecture's models of the same task ("vs <arch>"), and with raw pixels; one
    row per pair of models, with the pair's null_p95."""
    both = pd.concat([sim, sim.rename(columns=lambda c: c[:-2] + ("_b" if c.endswith("_a") else "_a")
                                      if c.endswith(("_a", "_b")) else c)], ignore_index=True)
    both = both[both["arch_a"] != PIXELS]
    out = []
    for (arch, task, arch_b, task_b), g in both.groupby(["arch_a", "task_a", "arch_b", "task_b"]):
        if arch_b == PIXELS:
            ref, keep = "pixels", g
        elif task_b != task:
            continue
        elif arch_b == arch:
            ref, keep = "cross-seed", g[(g["layer_a"] == g["layer_b"]) & (g["model_a"] < g["model_b"])]
        else:
            depths = g.drop_duplicates("layer_b").sort_values("layer_index_b")
            target = {la: depths["layer_b"].iloc[_closest(depths["depth_b"].to_numpy(), d)]
                      for la, d in g.drop_duplicates("layer_a")[["layer_a", "depth_a"]].itertuples(index=False)}
            ref, keep = f"vs {arch_b}", g[g["layer_b"] == g["layer_a"].map(target)]
        out.append(keep.assign(reference=ref))
    cols = {"arch_a": "arch", "task_a": "task", "layer_a": "layer", "layer_index_a": "layer_index",
            "depth_a": "depth"}
    if not out:
        raise InputError("similarity table: no pairs of models to compare")
    return pd.concat(out, ignore_index=True).rename(columns=cols)
