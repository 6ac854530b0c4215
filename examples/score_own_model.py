"""Score your own model's layers on a benchmark, from Python (goaldriven.api.score).

    python examples/score_own_model.py BENCHMARK [OUT]

BENCHMARK: a folder written by `goaldriven import` (e.g. `goaldriven import kalfas-it
../shared/data/kalfas2017_it results/neural/kalfas`), or a benchmark name of config/config.yaml.
"""

import sys

from goaldriven.api import score
from goaldriven.core.options import ScoringSpec

benchmark = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else None
table = score("examples/my_model.py:build", ["conv1", "conv2", "fc"], benchmark,
              input_size=64, preprocessing="imagenet", scoring=ScoringSpec(splits=4), out=out)
print(table[["layer", "area", "ev", "r", "rsa"]].to_string(index=False))
best = table.loc[table.groupby("area")["ev"].idxmax()]
print("best layer per area:", dict(zip(best["area"], best["layer"])))
