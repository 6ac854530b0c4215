"""Ridge (goaldriven's convention) against PLS (Brain-Score's) on the same features and sites.

Prints, per layer and area, the area score and median r of two score files of one model on one
benchmark: one made with ``goaldriven score --method ridge``, one with ``--method pls``; then the
held-out score of each (layer chosen on one half of the sites, scored on the other)::

    goaldriven score --features F.nc --recordings A.nc --trials T.nc --method pls --out pls.nc
    python benchmarks/ridge_vs_pls.py --ridge ridge.nc --pls pls.nc
"""

import argparse

import pandas as pd

from goaldriven.core.io import open_netcdf
from goaldriven.study.summary import held_out_scores, predictivity_rows


def compare(ridge_path, pls_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    files = {"ridge": open_netcdf(ridge_path, kind="dataset"), "pls": open_netcdf(pls_path, kind="dataset")}
    # PLS's per-site r with goaldriven's aggregate (median of per-site ratios): which part of the
    # difference is the mapping, which the order of aggregation
    files["pls_sitewise"] = files["pls"].drop_vars(["r_split", "ceiling_split"])
    if files["ridge"].attrs.get("model") != files["pls"].attrs.get("model"):
        raise SystemExit(f"{ridge_path} and {pls_path} score different models")
    per_layer = []
    for method, ds in files.items():
        for row in predictivity_rows(ds, {}):
            per_layer.append({"method": method, "layer": row["layer"], "area": row["region"],
                              "score": row["ev_median"], "r": row["r_median"], "ceiling": row["ceiling_median"],
                              "n_sites": row["n_sites"], "convention": row["convention"]})
    table = pd.DataFrame(per_layer).pivot_table(index=["area", "layer"], columns="method",
                                                values=["score", "r", "ceiling"], sort=False)
    held = pd.DataFrame([{"method": method, "area": area, "held_out_score": h["score"], "best_layer": h["layer"],
                          "selection": h["selection"]}
                         for method, ds in files.items() for area, h in held_out_scores(ds).items()])
    return table, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ridge", required=True, help="scores of goaldriven score --method ridge")
    parser.add_argument("--pls", required=True, help="scores of goaldriven score --method pls (same features)")
    a = parser.parse_args()
    table, held = compare(a.ridge, a.pls)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print("score: ridge = median over sites of r²/ceiling (goaldriven); pls = (split-median r)² / ceiling "
              "(Brain-Score); pls_sitewise = PLS's per-site r, aggregated as ridge's")
        print(table)
        print(held.to_string(index=False))


if __name__ == "__main__":
    main()
