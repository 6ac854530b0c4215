"""Coverage and bias of goaldriven.study.seed_variance.seed_share on simulated scores of known truth.

Per cell (design k architectures x n seeds, true seed share theta), normal seed noise (sd 1):
``fixed``: the same architecture means in every data set, spread so that
V_arch = sum (mu_a - mu)^2 / (k - 1) gives theta (the question about these architectures);
``random``: new architecture means in every data set, drawn from N(0, sigma2_arch) with
sigma2_arch = (1 - theta) / theta (the question about a population of architectures).
Prints, per cell, how often the 95% interval of that question covers theta and the mean estimate.

    PYTHONPATH=src python benchmarks/seed_share_coverage.py [--datasets 1000] [--effects fixed|random]
"""

from __future__ import annotations

import argparse

import numpy as np

from goaldriven.study.seed_variance import seed_share

DESIGNS = ((2, 3), (4, 10))
THETAS = (0.2, 0.5, 1.0)


def arch_means(k: int, theta: float) -> np.ndarray:
    """Fixed means with V_arch = (1 - theta) / theta (seed variance 1)."""
    base = np.linspace(-1, 1, k)
    v = np.sum((base - base.mean()) ** 2) / (k - 1)
    return base * np.sqrt((1 - theta) / theta / v)


def simulate(k: int, n: int, theta: float, datasets: int, seed: int = 0, effects: str = "fixed") -> dict:
    rng = np.random.default_rng([seed, k, n, int(theta * 100)])
    mu, groups = arch_means(k, theta), np.repeat([f"a{i}" for i in range(k)], n)
    est, cover = [], []
    for _ in range(datasets):
        if effects == "random":  # a new draw of architectures from their population
            mu = rng.normal(0, np.sqrt((1 - theta) / theta), k)
        s = seed_share(np.repeat(mu, n) + rng.normal(size=k * n), groups, effects=effects)
        est.append(s["share"])
        cover.append(s["low"] - 1e-9 <= theta <= s["high"] + 1e-9)
    return {"coverage": float(np.mean(cover)), "mean_estimate": float(np.mean(est))}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, default=1000)
    p.add_argument("--effects", default="fixed", choices=("fixed", "random"))
    a = p.parse_args(argv)
    print(f"architectures {a.effects}; {'design':>8} {'theta':>6} {'coverage':>9} {'mean est':>9}   "
          f"({a.datasets} data sets per cell)")
    for k, n in DESIGNS:
        for theta in THETAS:
            r = simulate(k, n, theta, a.datasets, effects=a.effects)
            print(f"{'':>20}{k:>3} x {n:<3} {theta:>6.1f} {r['coverage']:>9.3f} {r['mean_estimate']:>9.3f}")


if __name__ == "__main__":
    main()
