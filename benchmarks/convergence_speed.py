"""Wall time of cross-seed unit matching (`matching_table`) at the default experiment's size.

Three seeds of one architecture (untrained networks of the default width on random 64 px
images, so it needs no trained models), 640 stimuli, every layer (up to 6,144 columns),
128 units per layer, 10 permutations. Prints the seconds per (arch, task) for each unit
mode and the slowest steps. Run with one thread to match a workflow job:

    OMP_NUM_THREADS=1 python benchmarks/convergence_speed.py [--arch alexnet --stimuli 640]
"""

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

import goaldriven.compare.mapping  # noqa: F401  (imported up front so that neither mode pays for it)
from goaldriven.compare.convergence import matching_table
from goaldriven.core.io import write_netcdf
from goaldriven.models.zoo import build_model


def synthetic_features(arch: str, seed: int, n_stimuli: int, size: int, width: float) -> xr.DataArray:
    """A features assembly like the features stage writes, with each layer's (C, H, W) in attrs."""
    torch.manual_seed(seed)
    model = build_model(arch, n_out=8, width=width).eval()
    images = torch.from_numpy(np.random.default_rng(99).normal(size=(n_stimuli, 3, size, size)).astype(np.float32))
    with torch.no_grad():
        acts = model.features(images)
    names, nums, attrs = [], [], {}
    for name, a in acts.items():
        attrs[f"shape_{name}"] = ",".join(map(str, a.shape[1:]))
        names += [name] * int(np.prod(a.shape[1:]))
        nums += list(range(int(np.prod(a.shape[1:]))))
    data = np.concatenate([a.flatten(1).numpy() for a in acts.values()], axis=1)
    da = xr.DataArray(data, dims=("presentation", "neuroid"),
                      coords={"stimulus_id": ("presentation", [f"s{i:04d}" for i in range(n_stimuli)]),
                              "layer": ("neuroid", names), "neuroid_num": ("neuroid", nums)}, name="activations")
    da.attrs.update(attrs, model=f"{arch}/untrained_seed{seed}", layers=",".join(acts), projected_layers="")
    return da


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="alexnet")
    p.add_argument("--stimuli", type=int, default=640)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--max-units", type=int, default=128)
    p.add_argument("--permutations", type=int, default=10)
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for seed in range(3):
            paths.append(Path(tmp) / f"seed{seed}.nc")
            write_netcdf(synthetic_features(a.arch, seed, a.stimuli, a.size, a.width), paths[-1])
        attrs = synthetic_features(a.arch, 0, 2, a.size, a.width).attrs
        shapes = {k.removeprefix("shape_"): v for k, v in attrs.items() if k.startswith("shape_")}
        print(f"{a.arch} (width {a.width}), 3 seeds, {a.stimuli} stimuli, layer shapes {shapes}")
        for unit in ("column", "channel"):
            profiler = cProfile.Profile()
            t0, c0 = time.perf_counter(), time.process_time()
            profiler.enable()
            table = matching_table(paths, max_units=a.max_units, n_permutations=a.permutations, unit=unit)
            profiler.disable()
            # CPU time is what one core would take on an idle machine (the run is single-threaded
            # with OMP_NUM_THREADS=1); wall time also counts other users of a shared machine.
            print(f"unit={unit:7s}: {time.perf_counter() - t0:6.1f} s wall, {time.process_time() - c0:6.1f} s CPU "
                  f"for {len(table)} (layer, seed pair) rows; mean fraction convergent "
                  f"{table['frac_convergent'].mean():.2f}")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"convergence|mapping", 6)


if __name__ == "__main__":
    main()
