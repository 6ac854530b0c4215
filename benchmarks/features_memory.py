"""Peak memory of feature extraction: streamed to disk vs in memory, every layer of AlexNet.

The AlexNet-style network (width 1.0, untrained weights written with ``save_weights``) at
224 px, random uint8 images written batch by batch to a netCDF stimulus set. Each extraction
runs in a fresh subprocess, which prints its peak resident memory (``ru_maxrss``) and run
time; the parent prints them with the output size:

    python benchmarks/features_memory.py                      # 5,760 images, streamed only
    python benchmarks/features_memory.py --n-images 512 --modes streamed in-memory

Modes: ``streamed`` (``extract_to_netcdf``, the stimulus set opened lazily and read batch by
batch), ``streamed-loaded`` (the same with the stimulus set loaded first, as the CLI does
today: 5,760 x 224 x 224 x 3 uint8 is 867 MB), ``in-memory`` (``extract_assembly`` then
``save_features``: every activation held at once), ``old`` (the in-memory extraction of
commit ``--old-ref``, before streaming: dense Gaussian projection matrices, held per layer;
run it at a smaller ``--size``, since at 224 px conv1's matrix alone is 150,528 x 4,096).
"""

import argparse
import importlib.util
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODES = ("streamed", "streamed-loaded", "in-memory", "old")
OLD_REF = "18c3a30"  # the last commit with the in-memory extraction


def write_weights(path: Path, size: int, arch: str = "alexnet", width: float = 1.0) -> None:
    import torch

    from goaldriven.models.zoo import build_model
    from goaldriven.models.train import TrainConfig, save_weights

    torch.manual_seed(0)
    categories = [f"class{i}" for i in range(8)]
    save_weights(build_model(arch, len(categories), width), path,
                 TrainConfig(arch, seed=0, epochs=0, task="untrained", width=width), categories,
                 input_size=size)


def write_stimuli(path: Path, n: int, size: int, batch: int = 256) -> None:
    """Random uint8 images, written batch by batch (never all in memory)."""
    import netCDF4
    import xarray as xr

    coords = {"stimulus_id": ("presentation", np.array([f"random{i:05d}" for i in range(n)])),
              "label": ("presentation", np.arange(n) % 8)}
    xr.Dataset(coords=coords).to_netcdf(path, engine="netcdf4")
    rng = np.random.default_rng(0)
    with netCDF4.Dataset(path, "a") as nc:
        nc.createDimension("y", size)
        nc.createDimension("x", size)
        nc.createDimension("channel", 3)
        var = nc.createVariable("pixels", "u1", ("presentation", "y", "x", "channel"),
                                chunksizes=(min(batch, n), size, size, 3))
        var.setncatts({"coordinates": nc.getncattr("coordinates"),
                       "categories": ",".join(f"class{i}" for i in range(8))})
        nc.delncattr("coordinates")
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            var[start:stop] = rng.integers(0, 256, (stop - start, size, size, 3), dtype=np.uint8)


def old_features_module(ref: str):
    """features.py as it was at git ``ref``, imported inside the goaldriven package."""
    source = subprocess.run(["git", "show", f"{ref}:src/goaldriven/features.py"], check=True,
                            capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1]).stdout
    path = Path(tempfile.mkdtemp()) / "features_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("goaldriven.features_old", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker(mode: str, weights: str, stimuli: str, out: str, reduction: str, max_features: int,
           batch_size: int, old_ref: str) -> None:
    """One extraction; prints 'peak_mb seconds' for the parent."""
    import xarray as xr

    from goaldriven.models.features import FeatureSpec, extract_assembly, extract_to_netcdf, save_features
    from goaldriven.data.stimulus_sets import load_stimulus_set

    spec = FeatureSpec(reduction=reduction, max_features=max_features)
    t0 = time.perf_counter()
    if mode == "streamed":
        with xr.open_dataarray(stimuli, engine="netcdf4") as lazy:
            extract_to_netcdf(weights, lazy, out, "alexnet/untrained_seed0", spec=spec, batch_size=batch_size)
    elif mode == "streamed-loaded":
        extract_to_netcdf(weights, load_stimulus_set(stimuli), out, "alexnet/untrained_seed0", spec=spec,
                          batch_size=batch_size)
    elif mode == "old":
        old = old_features_module(old_ref)
        t0 = time.perf_counter()
        da = old.extract_assembly(weights, load_stimulus_set(stimuli), "alexnet/untrained_seed0",
                                  max_features=max_features)
        old.save_features(da, out)
    else:
        da = extract_assembly(weights, load_stimulus_set(stimuli), "alexnet/untrained_seed0", spec=spec,
                              batch_size=batch_size, progress=True)
        save_features(da, out)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    print(f"{peak_mb:.0f} {seconds:.1f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-images", type=int, default=5760)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--modes", nargs="+", choices=MODES, default=["streamed"])
    p.add_argument("--reduction", default="sparse")
    p.add_argument("--max-features", type=int, default=4096)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--old-ref", default=OLD_REF, help="git commit of the old extraction (mode 'old')")
    p.add_argument("--workdir", help="keep the files here (default: a temporary folder)")
    p.add_argument("--worker", nargs=4, metavar=("MODE", "WEIGHTS", "STIMULI", "OUT"), help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(*a.worker, a.reduction, a.max_features, a.batch_size, a.old_ref)
        return

    with tempfile.TemporaryDirectory(dir=a.workdir) as tmp:
        tmp = Path(tmp)
        write_weights(tmp / "weights.safetensors", a.size)
        write_stimuli(tmp / "stimuli.nc", a.n_images, a.size)
        stimuli_mb = os.path.getsize(tmp / "stimuli.nc") / 2**20
        print(f"AlexNet width 1.0 at {a.size} px, {a.n_images} random images ({stimuli_mb:.0f} MB on disk), "
              f"reduction {a.reduction} to {a.max_features}, batch {a.batch_size}, "
              f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
        for mode in a.modes:
            out = tmp / f"{mode}.nc"
            cmd = [sys.executable, __file__, "--reduction", a.reduction, "--max-features", str(a.max_features),
                   "--batch-size", str(a.batch_size), "--old-ref", a.old_ref,
                   "--worker", mode, str(tmp / "weights.safetensors"), str(tmp / "stimuli.nc"), str(out)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode != 0:
                print(f"{mode:16s} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
                continue
            peak_mb, seconds = result.stdout.split()[-2:]
            print(f"{mode:16s} peak RSS {float(peak_mb):8.0f} MB   {float(seconds):7.1f} s   "
                  f"output {os.path.getsize(out) / 2**20:7.0f} MB")


if __name__ == "__main__":
    main()
