"""How fast `goaldriven.data.stimulus_sets.read_image_folder` reads all of CIFAR-10 from its tarball.

Goal: the 60,000 JPEGs of /work/shared/data/cifar10/cifar10-images.tar.gz (train + test) in well
under a minute on one core. Prints wall and CPU seconds per split (CPU time is what one core
spends; wall time also counts waiting for a shared machine), and checks that importing the same
subset twice gives byte-identical netCDF files.

    OMP_NUM_THREADS=1 python benchmarks/import_image_folder.py [--source PATH]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from goaldriven.data.stimulus_sets import import_image_folder, read_image_folder

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GOALDRIVEN_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=SHARED / "cifar10" / "cifar10-images.tar.gz", type=Path)
    args = parser.parse_args()
    total_wall = total_cpu = total_images = 0
    for split in ("train", "test"):
        wall, cpu = time.perf_counter(), time.process_time()
        da = read_image_folder(args.source, subdir=split)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        total_wall, total_cpu, total_images = total_wall + wall, total_cpu + cpu, total_images + da.sizes["presentation"]
        print(f"{split:>5}: {da.sizes['presentation']:6d} images {tuple(da.shape[1:])}  wall {wall:5.1f} s  "
              f"cpu {cpu:5.1f} s  ({da.sizes['presentation'] / cpu:,.0f} images per CPU second)")
    print(f"total: {total_images:6d} images  wall {total_wall:5.1f} s  cpu {total_cpu:5.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"{i}.nc" for i in range(2)]
        for path in paths:
            import_image_folder(args.source, path, subdir="test", per_class=100, seed=0)
        same = paths[0].read_bytes() == paths[1].read_bytes()
        print(f"import twice (test, 100 per class): byte-identical netCDF: {same}")


if __name__ == "__main__":
    main()
