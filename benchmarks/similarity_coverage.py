"""Coverage of the similarity summary's interval for cross-seed minus cross-architecture CKA.

Simulated pair similarities of known truth: each network (seed) has its own effect, shared by
every pair it is in, plus noise per pair, so pairs are not independent, as in real data.
The interval leaves out one network at a time (goaldriven.compare.similarity._jackknife and _ci). Prints, per number of
seeds per architecture, how often the 95% interval covers the true difference.

    PYTHONPATH=src python benchmarks/similarity_coverage.py [--datasets 1000]
"""

from __future__ import annotations

import argparse

import numpy as np

from goaldriven.compare.similarity import _ci, _jackknife

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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", type=int, default=1000)
    a = p.parse_args()
    print(f"seeds per architecture  coverage of the 95% interval   ({a.datasets} data sets each)")
    for m in (3, 5, 10):
        print(f"{m:>22}  {coverage(m, a.datasets):.3f}")


if __name__ == "__main__":
    main()
