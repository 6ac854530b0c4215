"""Coverage of the similarity summary's intervals (goaldriven.compare.similarity), by simulation.

Two kinds of check. ``pairs``: simulated pair similarities of known truth, each network (seed)
with its own effect shared by every pair it is in, plus noise per pair (pairs are not
independent, as in real data); images fixed, so the networks-only interval (_jackknife, _ci).
``images``: simulated features of networks on images drawn afresh in every data set, linear
read-outs X = S W + noise of image latents S ~ N(0, I); an architecture fixes a base W, a seed
perturbs it. The truth is the population debiased CKA (||W_a' W_b||^2 / (||S_aa|| ||S_bb||),
S = W'W + noise), averaged over many seed draws; the intervals resample networks and images
(Grams.image_jackknife, _interval). Checked there: the gap cross_seed - cross_arch, and the gap
of trained networks minus the gap of untrained ones (difference_vs_untrained).

    PYTHONPATH=src python benchmarks/similarity_coverage.py [--datasets 1000]
"""

from __future__ import annotations

import argparse
from itertools import combinations

import numpy as np

from goaldriven.compare.similarity import Grams, _ci, _interval, _jackknife, _network_part

TRUE_DIFFERENCE = 0.1


def pair_values(m: int, rng, network_sd: float = 0.02, pair_sd: float = 0.01):
    """Cross-seed (combinations of m seeds) and cross-architecture (m x m) similarities, one layer."""
    u, w = rng.normal(0, network_sd, m), rng.normal(0, network_sd, m)
    iu = np.triu_indices(m, 1)
    cross_seed = 0.9 + u[iu[0]] + u[iu[1]] + rng.normal(0, pair_sd, len(iu[0]))
    cross_arch = 0.9 - TRUE_DIFFERENCE + u[:, None] + w[None, :] + rng.normal(0, pair_sd, (m, m))
    return cross_seed[:, None], cross_arch.reshape(-1, 1)


def coverage(m: int, datasets: int, seed: int = 0) -> float:
    rng = np.random.default_rng([seed, m])
    hits = 0
    for _ in range(datasets):
        vs, va = pair_values(m, rng)
        rep_s, rep_a = _jackknife(vs, va, m, m)
        ci = _ci("d", vs.mean() - va.mean(), (rep_s - rep_a)[:, 0], m, m)
        hits += ci["d_low"] <= TRUE_DIFFERENCE <= ci["d_high"]
    return hits / datasets


# ----------------------------------------------------------------------------- networks and images
LATENT, UNITS, NOISE = 6, 20, 1.0
# (spread of the base weights between architectures, seed perturbation): trained seeds agree
# more with each other than untrained ones (which are the base plus a larger random part)
KINDS = {"trained": 0.5, "untrained": 1.2}


def _population_cka(A, B) -> float:
    """Debiased CKA at infinitely many images: ||A'B||^2 / (||A'A + s I|| ||B'B + s I||)."""
    noise = NOISE ** 2 * np.eye(A.shape[1])
    return float(np.sum((A.T @ B) ** 2) / (np.linalg.norm(A.T @ A + noise) * np.linalg.norm(B.T @ B + noise)))


def _bases(seed: int = 0) -> dict:
    rng = np.random.default_rng([seed, 99])
    return {kind: [rng.normal(size=(LATENT, UNITS)) for _ in range(2)] for kind in KINDS}


def true_gaps(bases: dict, draws: int = 4000, seed: int = 0) -> dict:
    """Per kind, E cross-seed - E cross-architecture population CKA (architecture a vs b)."""
    rng = np.random.default_rng([seed, 7])
    out = {}
    for kind, tau in KINDS.items():
        (wa, wb) = bases[kind]
        net = lambda w: w + tau * rng.normal(size=w.shape)  # noqa: E731
        out[kind] = np.mean([_population_cka(net(wa), net(wa)) - _population_cka(net(wa), net(wb))
                             for _ in range(draws)])
    return out


def _gap(bases, kind, m, S, rng, groups):
    """Cross-seed and cross-architecture debiased CKA of m seeds each, on images S: estimate of
    the gap, its network replicates and its image-jackknife replicates."""
    (wa, wb), tau = bases[kind], KINDS[kind]
    grams = Grams(len(S))
    for w in [wa] * m + [wb] * m:
        grams.add(len(grams.keys), S @ (w + tau * rng.normal(size=w.shape)) + NOISE * rng.normal(size=(len(S), UNITS)))
    _, debiased, _, _ = grams.matrices(n_permutations=1)
    drops = grams.image_jackknife(groups)
    seed_pairs = list(combinations(range(m), 2))
    arch_pairs = [(a, m + b) for a in range(m) for b in range(m)]
    take = lambda M, pairs: np.array([M[..., i, j] for i, j in pairs])  # noqa: E731
    vs, va = take(debiased, seed_pairs)[:, None], take(debiased, arch_pairs)[:, None]
    rep_s, rep_a = _jackknife(vs, va, m, m)
    img = take(drops.transpose(1, 2, 0), seed_pairs).mean(axis=0) - take(drops.transpose(1, 2, 0), arch_pairs).mean(axis=0)
    return vs.mean() - va.mean(), (rep_s - rep_a)[:, 0], img


def image_coverage(m: int, datasets: int, n_images: int = 60, groups: int = 10, seed: int = 0) -> dict:
    """Shares of data sets whose intervals cover the true gap (``gap``, networks and images;
    ``gap_images_fixed``, networks only) and the true trained - untrained gap."""
    bases = _bases(seed)
    truth = true_gaps(bases, seed=seed)
    rng = np.random.default_rng([seed, m, n_images])
    hits = {"gap": [], "gap_images_fixed": [], "difference_vs_untrained": []}
    for _ in range(datasets):
        S = rng.normal(size=(n_images, LATENT))
        (g, rep, img), (gu, rep_u, img_u) = (_gap(bases, k, m, S, rng, groups) for k in KINDS)
        both = _interval("x", g, [_network_part(rep, m, m)], img)
        only = _ci("x", g, rep, m, m)
        dvu = _interval("x", g - gu, [_network_part(rep, m, m), _network_part(rep_u, m, m)], img - img_u)
        hits["gap"].append(both["x_low"] <= truth["trained"] <= both["x_high"])
        hits["gap_images_fixed"].append(only["x_low"] <= truth["trained"] <= only["x_high"])
        hits["difference_vs_untrained"].append(dvu["x_low"] <= truth["trained"] - truth["untrained"] <= dvu["x_high"])
    return {k: float(np.mean(v)) for k, v in hits.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=int, default=1000)
    a = p.parse_args()
    print(f"pairs, images fixed: seeds per architecture, coverage of the 95% interval   ({a.datasets} data sets each)")
    for m in (3, 5, 10):
        print(f"{m:>22}  {coverage(m, a.datasets):.3f}")
    print(f"networks on 60 images drawn afresh, 10 image groups   ({a.datasets} data sets each)")
    for m in (3, 5):
        c = image_coverage(m, a.datasets)
        print(f"{m:>3} seeds: gap {c['gap']:.3f} (networks and images), {c['gap_images_fixed']:.3f} (networks only); "
              f"trained gap - untrained gap {c['difference_vs_untrained']:.3f}")


if __name__ == "__main__":
    main()
