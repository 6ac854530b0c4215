#!/usr/bin/env python
"""Copy a finished study's summary tables and figures into a folder that git keeps (for
example docs/results/real_cpu/) and write summary.md, the numbers a README cites, each made
from the tables here rather than copied by hand.

Usage: python workflow/scripts/publish_study.py --configfile config/real_cpu.yaml --out docs/results/real_cpu
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd
import yaml

TABLES = ["summary/models.csv", "summary/positive_control.csv", "summary/sessions.csv", "summary/leaderboard.csv",
          "summary/predictivity.csv", "summary/rsa.csv", "summary/references.csv", "convergence/seed_variance.csv",
          "convergence/similarity_summary.csv"]
DIET = {"supervised": "first diet (config training)", "objects": "second diet (config objects)"}


def _fmt(x, digits=3) -> str:
    return "n/a" if pd.isna(x) else f"{x:.{digits}f}"


def training_section(models: pd.DataFrame) -> list[str]:
    lines = ["## Training", "", "| diet | architecture | seeds | test accuracy, mean | range | input size (px) |",
             "|---|---|---|---|---|---|"]
    trained = models[models["task"].isin(list(DIET))]
    for (task, arch), g in trained.groupby(["task", "arch"]):
        acc = g["test_accuracy"]
        lines.append(f"| {DIET[task]} | {arch} | {len(g)} | {acc.mean():.3f} | {acc.min():.3f}-{acc.max():.3f} | "
                     f"{', '.join(str(int(s)) for s in g['input_size'].dropna().unique())} |")
    return lines + [""]


def positive_control_section(table: pd.DataFrame) -> list[str]:
    lines = ["## Positive control", "",
             "Trained minus comparison, mean over seeds; 95% interval from resampling images and sites "
             f"({table['resampling'].iloc[0]}); layer: {table['selection'].iloc[0].split(',')[0]} "
             "(sites for site scores, images for RSA). **Bold**: the interval excludes 0.", "",
             "| benchmark · area · score | architecture · task | comparison | trained | comparison's | difference [95% interval] |",
             "|---|---|---|---|---|---|"]
    for row in table.itertuples():
        diff = f"{row.difference:+.3f} [{row.difference_low:+.3f}, {row.difference_high:+.3f}]"
        lines.append(f"| {row.benchmark} · {row.region} · {row.score} | {row.arch} · {row.task} | {row.comparison} | "
                     f"{_fmt(row.trained)} | {_fmt(row.control)} | {'**' + diff + '**' if row.excludes_zero else diff} |")
    return lines + [""]


def seed_section(variance: pd.DataFrame) -> list[str]:
    lines = ["## Seed share", "", "| task | score | architectures x seeds | seed share [95% interval] | interval |",
             "|---|---|---|---|---|"]
    for row in variance.itertuples():
        lines.append(f"| {row.task} | {row.metric} | {row.n_archs} x {row.n_seeds} | {_fmt(row.seed_share, 2)} "
                     f"[{_fmt(row.seed_share_low, 2)}, {_fmt(row.seed_share_high, 2)}] | {row.interval} |")
    return lines + [""]


GIT_LIMIT = 2_000_000  # bytes: no committed file over 2 MB


def copy_figure(png: Path, dest: Path, limit: int = GIT_LIMIT) -> None:
    """Copy a figure for git; one over ``limit`` (a grid of photographs at 200 dpi) is saved
    as a 256-colour PNG instead: the same pixels' layout and text, a few times smaller."""
    if png.stat().st_size <= limit:
        shutil.copyfile(png, dest)
        return
    from PIL import Image

    with Image.open(png) as img:
        img.convert("RGB").quantize(colors=256).save(dest, optimize=True)
    if dest.stat().st_size > limit:
        raise SystemExit(f"{png}: {dest.stat().st_size:,} bytes even with 256 colours (limit {limit:,}); "
                         "draw it at a lower dpi")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    config = yaml.safe_load(Path(a.configfile).read_text())
    results, out = Path(config.get("results", "results")), Path(a.out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        if (results / name).is_file():
            shutil.copyfile(results / name, out / Path(name).name)
    for png in sorted((results / "figures").glob("*.png")):
        copy_figure(png, out / "figures" / png.name)
    models = pd.read_csv(results / "summary/models.csv")
    text = [f"# {config['label']}: summary of `{a.configfile}`", "",
            "Made by `workflow/scripts/publish_study.py` from the tables in this folder.", ""]
    text += training_section(models)
    if (results / "summary/positive_control.csv").is_file():
        text += positive_control_section(pd.read_csv(results / "summary/positive_control.csv"))
    if (results / "convergence/seed_variance.csv").is_file():
        text += seed_section(pd.read_csv(results / "convergence/seed_variance.csv"))
    (out / "summary.md").write_text("\n".join(text))
    print(f"wrote {out} ({len(list(out.iterdir()))} entries)")


if __name__ == "__main__":
    main()
