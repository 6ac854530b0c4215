"""Calibration of the unit-matching chance level on images (goaldriven.compare.convergence).

``held_out_matching`` matches units on one half of the stimuli and tests each pair's r on the
other half, the held-out stimuli resampled. Printed: the share of units called convergent
(one-sided bootstrap p <= 0.05) when the two networks' units are independent, for columns and
for channels (4 positions per stimulus), which should be about 0.05; the share when half the
units of A are noisy copies of units of B (power); and the coverage of matching_summary's
interval of trained minus untrained (delete-one-seed jackknife of simulated seed-pair values
with a per-seed effect, as pairs share seeds).

    PYTHONPATH=src python benchmarks/matching_chance.py [--datasets 1000]
"""

from __future__ import annotations

import argparse
from itertools import combinations

import numpy as np
import pandas as pd

from goaldriven.compare.convergence import held_out_matching, matching_summary


def false_positives(datasets: int, n_stimuli: int = 100, units: int = 32, positions: int = 1, shared: float = 0.0,
                    seed: int = 0) -> float:
    """Share of A's units called convergent; ``shared``: the share of A's units that copy one of B's."""
    rng = np.random.default_rng([seed, positions, int(shared * 100)])
    half = np.arange(n_stimuli) % 2
    calls = []
    for _ in range(datasets):
        B = rng.gamma(1.0, size=(n_stimuli * positions, units))
        A = rng.gamma(1.0, size=B.shape)
        k = int(shared * units)
        A[:, :k] = B[:, :k] + rng.normal(0, 1.0, (len(B), k))
        calls.append(np.mean(held_out_matching(A, B, half, positions, n_boot=200, seed=int(rng.integers(1e9)))["p"]
                             <= 0.05))
    return float(np.mean(calls))


def summary_coverage(datasets: int, seeds: int = 3, truth: float = 0.2, seed: int = 0) -> float:
    """Coverage of the trained - untrained interval of the fraction convergent (one layer)."""
    rng = np.random.default_rng([seed, seeds])
    hits = []
    for _ in range(datasets):
        rows = []
        for task, mean in (("supervised", 0.3 + truth), ("untrained", 0.3)):
            u = rng.normal(0, 0.03, seeds)  # each seed's own effect, shared by its pairs
            for a, b in combinations(range(seeds), 2):
                value = mean + u[a] + u[b] + rng.normal(0, 0.02)
                rows.append({"arch": "net", "task": task, "layer": "l1", "layer_index": 0, "seed_a": a, "seed_b": b,
                             "frac_convergent": value, "matched_r": value, "frac_convergent_images": value,
                             "matched_r_held_out": value})
        row = matching_summary([pd.DataFrame(rows)]).iloc[0]
        hits.append(row["frac_convergent_difference_low"] <= truth <= row["frac_convergent_difference_high"])
    return float(np.mean(hits))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, default=1000)
    a = p.parse_args()
    n = a.datasets
    print(f"independent units, columns: {false_positives(n // 4):.3f} called convergent ({n // 4} data sets x 32 units)")
    print(f"independent units, channels x 4 positions: {false_positives(n // 4, positions=4):.3f}")
    print(f"half the units copied (noise sd 1): {false_positives(n // 10, shared=0.5):.3f} called convergent "
          f"(at most 0.5 + 0.05 x 0.5)")
    for seeds in (3, 5):
        print(f"{seeds} seeds: trained - untrained interval covers the truth in {summary_coverage(n, seeds):.3f} "
              f"of {n} data sets")


if __name__ == "__main__":
    main()
