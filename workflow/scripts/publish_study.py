#!/usr/bin/env python
"""Copy a finished study's summary tables and figures into a folder that git keeps (for
example docs/results/real_cpu/) and write summary.md, the numbers a README cites, each made
from the tables here rather than copied by hand.

Usage: python workflow/scripts/publish_study.py --configfile config/real_cpu.yaml --out docs/results/real_cpu
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

TABLES = ["summary/models.csv", "summary/positive_control.csv", "summary/sessions.csv", "summary/leaderboard.csv",
          "summary/predictivity.csv", "summary/rsa.csv", "summary/references.csv", "convergence/seed_variance.csv",
          "convergence/similarity_summary.csv", "convergence/matching_summary.csv"]
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


def _p(x) -> str:
    return "n/a" if pd.isna(x) else "< 0.0001" if x < 1e-4 else f"{x:.4f}"


def _ci(row, name: str, digits: int = 3, sign: str = "+") -> str:
    """'value [low, high]' of columns name, name_low, name_high of a row."""
    get = lambda suffix: getattr(row, name + suffix)  # noqa: E731
    f = lambda x: "n/a" if pd.isna(x) else f"{x:{sign}.{digits}f}"  # noqa: E731
    return f"{f(get(''))} [{f(get('_low'))}, {f(get('_high'))}]"


def _bold_if(text: str, flag) -> str:
    return f"**{text}**" if bool(flag) else text


def positive_control_section(table: pd.DataFrame) -> list[str]:
    lines = ["## Positive control", "",
             "Trained minus comparison, mean over seeds; 95% interval over seeds, images and sites "
             f"({table['resampling'].iloc[0]}); layer: {table['selection'].iloc[0].split(',')[0]} "
             "(sites for site scores, images for RSA). p: two-sided, of the same t; Holm: "
             f"{table['p_family'].iloc[0]}. **Bold**: Holm-adjusted p < 0.05.", "",
             "| benchmark · area · score | architecture · task | comparison | trained | comparison's | "
             "difference [95% interval] | p | Holm p |", "|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        diff = _ci(row, "difference")
        lines.append(f"| {row.benchmark} · {row.region} · {row.score} | {row.arch} · {row.task} | {row.comparison} | "
                     f"{_fmt(row.trained)} | {_fmt(row.control)} | {_bold_if(diff, row.p_adjusted < 0.05)} | "
                     f"{_p(row.p_value)} | {_p(row.p_adjusted)} |")
    return lines + [""]


def seed_section(variance: pd.DataFrame) -> list[str]:
    first = variance.iloc[0]
    lines = ["## Seed share", "",
             "Seed variance / (seed + architecture variance), per task and score, two questions: "
             f"*these architectures*: {first['question_fixed']} ({first['interval_fixed']}); "
             f"*a population of architectures*: {first['question_random']} ({first['interval_random']}). "
             "Reading: seeds dominate only if the interval lies above 0.5, architecture dominates only if below. "
             f"p: F test of the architecture effect; Holm: {first['p_family']}. **Bold**: Holm-adjusted p < 0.05. "
             f"Rankings: {first['pairwise_family']}.", "",
             "| task | score | architectures x seeds | seed share | these architectures [95%] · reading | "
             "a population of architectures [95%] · reading | F p | Holm p |", "|---|---|---|---|---|---|---|---|"]
    for row in variance.itertuples():
        fixed = f"[{_fmt(row.share_fixed_low, 2)}, {_fmt(row.share_fixed_high, 2)}] · {row.reading_fixed}"
        random = f"[{_fmt(row.share_random_low, 2)}, {_fmt(row.share_random_high, 2)}] · {row.reading_random}"
        lines.append(f"| {row.task} | {row.metric} | {row.n_archs} x {row.n_seeds} | {_fmt(row.share_fixed, 2)} | "
                     f"{fixed} | {random} | {_p(row.p_value)} | {_bold_if(_p(row.p_adjusted), row.p_adjusted < 0.05)} |")
    return lines + [""]


def similarity_section(summary: pd.DataFrame) -> list[str]:
    mean = summary[summary["layer"] == "mean"]
    lines = ["## Seeds against architectures (debiased CKA, mean over layers at matched depth)", "",
             "cross-seed and cross-architecture similarity, their gap, the same gap of the untrained "
             "initialisations and trained gap minus untrained gap (what learning adds); 95% intervals over "
             f"{mean['resampling'].iloc[0]}. **Bold**: the interval excludes 0. n/a: 2 seeds leave no cross-seed "
             "pair to leave out.", "",
             "| task | architecture vs other | cross-seed | cross-architecture | gap | untrained gap | "
             "gap - untrained gap |", "|---|---|---|---|---|---|---|"]
    for row in mean.itertuples():
        excl = lambda name: getattr(row, f"{name}_low") > 0 or getattr(row, f"{name}_high") < 0  # noqa: E731
        lines.append(f"| {row.task} | {row.arch} vs {row.other_arch} | {_ci(row, 'cross_seed', sign='')} | "
                     f"{_ci(row, 'cross_arch', sign='')} | {_bold_if(_ci(row, 'difference'), excl('difference'))} | "
                     f"{_fmt(row.untrained_gap)} | "
                     f"{_bold_if(_ci(row, 'difference_vs_untrained'), excl('difference_vs_untrained'))} |")
    return lines + [""]


def matching_section(summary: pd.DataFrame) -> list[str]:
    mean = summary[summary["layer"] == "mean"]
    lines = ["## Unit matching, trained against untrained (mean over layers)", "",
             f"Chance: {mean['chance'].iloc[0]}. Intervals over {mean['resampling'].iloc[0]}.", "",
             "| architecture · task | seeds | units above chance (shuffle): trained, untrained, difference [95%] | "
             "units above chance (images): trained, untrained, difference [95%] |", "|---|---|---|---|"]
    for row in mean.itertuples():
        cells = [f"{_fmt(getattr(row, f'{v}_trained'))}, {_fmt(getattr(row, f'{v}_untrained'))}, "
                 f"{_ci(row, f'{v}_difference')}" for v in ("frac_convergent", "frac_convergent_images")]
        lines.append(f"| {row.arch} · {row.task} | {row.n_seeds} | {cells[0]} | {cells[1]} |")
    return lines + [""]


def full_rsa_section(models: pd.DataFrame) -> list[str]:
    from goaldriven.study.summary import full_set_rsa

    table = full_set_rsa(models)
    if table.empty:
        return []
    first = table.iloc[0]
    lines = ["## RSA on all the images of the published RDMs", "",
             f"Mean over seeds; 95% intervals over {first['resampling']}. Layer: {first['selection']}. "
             f"{first['ceiling'][:1].upper()}{first['ceiling'][1:]}.", "",
             "| task | architecture | area | seeds | images | Spearman [95%] | Kendall tau-a [95%] |",
             "|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| {row.task} | {row.arch} | {row.area} | {row.n_seeds} | {_fmt(row.n_images, 0)} | "
                     f"{_ci(row, 'spearman', sign='')} | {_ci(row, 'kendall_tau_a', sign='')} |")
    return lines + [""]


GIT_LIMIT = 2_000_000  # bytes: no committed file over 2 MB


def copy_figure(png: Path, dest: Path, limit: int = GIT_LIMIT) -> str:
    """Copy a figure for git; one over ``limit`` (a grid of photographs at 200 dpi) is saved
    as a 256-colour PNG instead: the same pixels' layout and text, a few times smaller. Returns
    how it was copied."""
    if png.stat().st_size <= limit:
        shutil.copyfile(png, dest)
        return "identical"
    from PIL import Image

    with Image.open(png) as img:
        img.convert("RGB").quantize(colors=256).save(dest, optimize=True)
    if dest.stat().st_size > limit:
        raise SystemExit(f"{png}: {dest.stat().st_size:,} bytes even with 256 colours (limit {limit:,}); "
                         "draw it at a lower dpi")
    return "256-colour copy"


def sections(models: pd.DataFrame, results: Path) -> list[str]:
    """Every section after training whose table the study made (older tables: skipped)."""
    text = []
    for name, section, needs in (("summary/positive_control.csv", positive_control_section, "p_adjusted"),
                                 ("convergence/seed_variance.csv", seed_section, "reading_random"),
                                 ("convergence/similarity_summary.csv", similarity_section, "difference_vs_untrained"),
                                 ("convergence/matching_summary.csv", matching_section, "chance")):
        if (results / name).is_file():
            table = pd.read_csv(results / name)
            if needs in table:
                text += section(table)
            else:  # made by an older goaldriven: its numbers would be read as what they are not
                print(f"{results / name}: no column {needs!r} (an older goaldriven made it); section left out, "
                      "run the study again")
    return text + full_rsa_section(models)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configfile", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    config = yaml.safe_load(Path(a.configfile).read_text())
    results, out = Path(config.get("results", "results")), Path(a.out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    published = {}  # each file here: the locked output it copies (tests/workflow/test_published.py)
    for name in TABLES:
        if (results / name).is_file():
            shutil.copyfile(results / name, out / Path(name).name)
            published[Path(name).name] = {"source": (results / name).as_posix(), "md5": _md5(results / name),
                                          "copy": "identical"}
    for png in sorted((results / "figures").glob("*.png")):
        how = copy_figure(png, out / "figures" / png.name)
        published[f"figures/{png.name}"] = {"source": png.as_posix(), "md5": _md5(png), "copy": how}
    (out / "published.json").write_text(json.dumps({"config": a.configfile, "files": published}, indent=1,
                                                   sort_keys=True) + "\n")
    models = pd.read_csv(results / "summary/models.csv")
    text = [f"# {config['label']}: summary of `{a.configfile}`", "",
            "Made by `workflow/scripts/publish_study.py` from the tables in this folder.", ""]
    text += training_section(models)
    text += sections(models, results)
    (out / "summary.md").write_text("\n".join(text))
    print(f"wrote {out} ({len(list(out.iterdir()))} entries)")


if __name__ == "__main__":
    main()
