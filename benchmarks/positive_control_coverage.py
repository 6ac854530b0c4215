"""Coverage of the positive control's intervals (goaldriven.study.positive_control), by simulation.

Simulated score files of known truth: sites respond to images with a signal plus trial noise;
every model predicts every site from the signal plus noise at its better layer (a worse layer
beside it). Each seed of a model gets its own noise level, sd = base + N(0, seed_sd): seeds
differ in how brain-like they are. Trained and untrained seeds share the base, so the true
expected difference (over seeds, images and sites) is 0; the headline interval (seeds, images
and sites) should cover 0 in at least 95% of data sets, with or without seed variance. Printed
beside it: the interval given the seeds (images and sites alone), and the percentile interval
of a hierarchical bootstrap that also redraws seeds, which the module does not use. With one
model better (base 0.7 against 1.0) the share that excludes 0 shows the power.

    PYTHONPATH=src python benchmarks/positive_control_coverage.py [--datasets 1000]
"""

from __future__ import annotations

import argparse

import numpy as np
import xarray as xr

from goaldriven.study import positive_control as pc


def score_dataset(model: str, signal, observed, rng, noise=(1.0, 2.0), ceiling=0.8) -> xr.Dataset:
    """A score file as goaldriven score writes it (one session): predictions of two layers."""
    n_img, n_site = observed.shape
    pred = np.stack([signal + rng.normal(0, sd, signal.shape) for sd in noise]).astype(np.float32)
    ids, sites = [f"im{i:03d}" for i in range(n_img)], [f"n{j:03d}" for j in range(n_site)]
    return xr.Dataset(
        {"ceiling": ("neuroid", np.full(n_site, ceiling)),
         "prediction": (("layer", "entry"), pred.reshape(len(noise), -1)),
         "observed": ("entry", observed.astype(np.float32).ravel())},
        coords={"layer": [f"layer{k}" for k in range(len(noise))], "neuroid_id": ("neuroid", sites),
                "region": ("neuroid", ["IT"] * n_site), "area": ["IT"],
                "entry_stimulus_id": ("entry", np.repeat(ids, n_site)),
                "entry_neuroid_id": ("entry", np.tile(sites, n_img)),
                "entry_session": ("entry", np.zeros(n_img * n_site, int))},
        attrs={"model": model, "benchmark": "sim"})


def study_files(rng, n_img=60, n_site=30, better=0.0, n_seeds=3, seed_sd=0.0):
    """Score files of one simulated study: n_seeds trained seeds and their untrained seeds."""
    signal = rng.normal(0, 1, (n_img, n_site))
    observed = signal + rng.normal(0, 1, signal.shape)
    files = []
    for s in range(n_seeds):
        for task, base in (("supervised", 1.0 - better), ("untrained", 1.0)):
            sd = max(base + rng.normal(0, seed_sd), 0.05)
            files.append(score_dataset(f"a/{task}_seed{s}", signal, observed, rng, noise=(sd, sd + 1.0)))
    return files


def one_dataset(rng, n_boot=200, seed=0, **kw):
    """The (ev and r) rows of one simulated study: trained vs its untrained seeds."""
    return pc.positive_control_table(study_files(rng, **kw), n_boot=n_boot, seed=seed)


def coverage(datasets: int, better: float = 0.0, seed: int = 0, n_boot: int = 200, **kw) -> dict:
    """Per score, the share of data sets whose interval covers 0 (better = 0: the truth):
    ``headline`` (seeds, images and sites) and ``seeds_fixed`` (images and sites alone)."""
    rng = np.random.default_rng(seed)
    hits = {}
    for _ in range(datasets):
        for row in one_dataset(rng, better=better, n_boot=n_boot, **kw).itertuples():
            h = hits.setdefault(row.score, {"headline": [], "seeds_fixed": []})
            h["headline"].append(row.difference_low <= 0 <= row.difference_high)
            h["seeds_fixed"].append(row.difference_seeds_fixed_low <= 0 <= row.difference_seeds_fixed_high)
    return {k: {m: float(np.mean(v)) for m, v in h.items()} for k, h in hits.items()}


def hierarchical_coverage(datasets: int, seed: int = 0, n_boot: int = 200, kind: str = "r", **kw) -> float:
    """Coverage of 0 by the percentile interval of a hierarchical bootstrap (seeds redrawn with
    replacement, paired with their untrained seed, in every image-and-site resample)."""
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(datasets):
        files = [pc._SiteScores(f) for f in study_files(rng, **kw)]
        (_, _, masks), = [m for m in pc._site_metrics(files[0]) if m[1] == kind]
        draws = pc._site_draws(files[0].blocks, masks, n_boot, seed)
        samples = np.array([pc._site_score_samples(f, kind, masks, draws)[1] for f in files])
        d = samples[0::2] - samples[1::2]  # (seeds, replicates): trained minus its untrained seed
        picks = rng.integers(0, len(d), (n_boot, len(d)))
        boot = d[picks, np.arange(n_boot)[:, None]].mean(axis=1)
        hits.append(np.quantile(boot, 0.025) <= 0 <= np.quantile(boot, 0.975))
    return float(np.mean(hits))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=1000)
    a = ap.parse_args()
    n = a.datasets
    for n_seeds, seed_sd in ((3, 0.0), (3, 0.4), (2, 0.4)):
        for score, share in coverage(n, n_seeds=n_seeds, seed_sd=seed_sd).items():
            print(f"{n_seeds} seeds, seed sd {seed_sd}, no true difference, {score}: covers 0 in "
                  f"{share['headline']:.3f} (seeds, images and sites), {share['seeds_fixed']:.3f} "
                  f"(images and sites, seeds fixed) of {n} data sets")
    print(f"3 seeds, seed sd 0.4, median r: hierarchical percentile bootstrap covers 0 in "
          f"{hierarchical_coverage(n // 4, seed_sd=0.4):.3f} of {n // 4} data sets")
    for score, share in coverage(n // 4, better=0.3, seed_sd=0.15).items():
        print(f"trained better (noise sd 0.7 vs 1.0), seed sd 0.15, {score}: headline interval excludes 0 in "
              f"{1 - share['headline']:.3f} of {n // 4}")


if __name__ == "__main__":
    main()
