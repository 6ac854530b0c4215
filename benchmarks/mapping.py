"""Ridge (ours) vs Brain-Score's PLS-25 protocol, side by side on the same data and splits.

Prints wall time and median held-out r per method. By default it uses one layer of the default
experiment (run `snakemake --cores all` first); pass other files to measure elsewhere:

    python benchmarks/mapping.py [--features F.nc --layer NAME --recordings R.nc --splits 10]
"""

import argparse
import time

import numpy as np

from goaldriven.compare import make_splits, neural_predictivity
from goaldriven.features import layer_matrix
from goaldriven.io import open_netcdf
from goaldriven.neural import average_repetitions, load_assembly


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", default="results/features/alexnet/supervised_seed0.nc")
    p.add_argument("--layer", default="conv4")
    p.add_argument("--recordings", default="results/recordings/simulated.nc")
    p.add_argument("--splits", type=int, default=10)
    a = p.parse_args()
    x = layer_matrix(open_netcdf(a.features), a.layer)
    y = average_repetitions(load_assembly(a.recordings))
    # The same explicit splits for both methods (Brain-Score's 90/10 stratified shuffle splits).
    labels = y["object_name"].values if "object_name" in y.coords else None
    folds = make_splits(a.splits, y.sizes["presentation"], labels, seed=0, method="pls")
    order = {s: i for i, s in enumerate(x["stimulus_id"].values)}
    x = x.isel(presentation=[order[s] for s in y["stimulus_id"].values])
    print(f"data: {x.sizes['presentation']} stimuli x {x.sizes['neuroid']} features -> "
          f"{y.sizes['neuroid']} sites, {len(folds)} splits")
    times = {}
    for method in ("ridge", "pls"):
        t0 = time.perf_counter()
        r = neural_predictivity(x, y, method=method, splits=folds)["r"].values
        times[method] = time.perf_counter() - t0
        print(f"{method:5s}: {times[method]:7.2f} s   median r = {np.nanmedian(r):.3f}")
    print(f"speed-up of ridge over PLS-25: {times['pls'] / times['ridge']:.1f}x")


if __name__ == "__main__":
    main()
