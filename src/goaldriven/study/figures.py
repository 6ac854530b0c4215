"""The study's figures, drawn with seaborn/matplotlib from the tidy tables of the summary stages.

Every ``plot_*`` function takes its inputs (paths, or already loaded DataFrames/DataArrays),
an output PNG path (a PDF with the same stem is written beside it) and a ``data_label`` that
is printed under the title of a figure drawn from recordings, so that a figure made from
simulated recordings says so (figures of networks or stimuli alone do not print it).

Print size: each figure is drawn at the size it is printed at, one column (3.5 in) or two
(7 in) wide (:data:`WIDTH`), with no text under 7 pt. Statistics are not on the canvas: the
caption of each figure (``workflow/report/figures/NAME.rst``) says what they are and which table
column holds them; a plot function that computes a statistic itself returns it as a table,
which ``goaldriven figure`` prints to its log.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are drawn in batch jobs with no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.legend_handler import HandlerTuple  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

from ..core.io import InputError, atomic_path, open_netcdf, read_csv  # noqa: E402
from ..core.registry import FIGURES  # noqa: E402
from .statistics import arch_bootstrap_r, correlation_ci  # noqa: E402
from ..data.assemblies import is_rdm_assembly  # noqa: E402

DPI = 200
SINGLE, DOUBLE = 3.5, 7.0  # print widths (in): one column, two columns
MIN_FONT = 7.0  # the smallest text, in points at print size
FONT, TITLE_FONT = 7.5, 8.5
# The width each figure is printed at; a test renders every figure and checks it.
WIDTH = {"montage": DOUBLE, "layer_profiles": DOUBLE, "performance_vs_it": SINGLE, "rsa": DOUBLE, "cka": DOUBLE,
         "correspondence": DOUBLE, "recovery": SINGLE, "matching": DOUBLE, "seed_variance": DOUBLE,
         "unit_examples": DOUBLE, "trajectory": DOUBLE, "leaderboard": DOUBLE, "positive_control": DOUBLE}
MAX_HEIGHT = 9.0  # a printed page's text height (in)
sns.set_theme(style="whitegrid", context="paper", rc={
    "font.size": FONT, "axes.titlesize": 8, "axes.labelsize": FONT, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "legend.title_fontsize": 7, "figure.titlesize": TITLE_FONT, "figure.labelsize": FONT,
    "axes.linewidth": 0.6, "grid.linewidth": 0.4, "lines.linewidth": 1.2, "lines.markersize": 3.5,
    "xtick.major.pad": 1.5, "ytick.major.pad": 1.5, "axes.labelpad": 2.0, "axes.titlepad": 3.0,
    "legend.handlelength": 2.2, "legend.columnspacing": 1.2, "legend.borderaxespad": 0.2,
    "figure.constrained_layout.h_pad": 0.02, "figure.constrained_layout.w_pad": 0.02})
EV_LABEL = "explained variance\n(fraction of explainable variance)"
MEDIAN_EV_LABEL = "explained variance, median over sites\n(fraction of explainable variance)"
REGIONS = ("V4", "IT")
TASK_STYLE = {"supervised": "-", "untrained": "--"}
TASK_MARKER = {"supervised": "o", "untrained": "X", "objects": "s", "untrained_objects": "P", "autoencoder": "D",
               "pose": "^", "external": "v"}
EXTERNAL = "external"  # the task of the external models (pixels, a V1-like Gabor bank): no layers in depth
# Horizontal reference lines (external models, published reference RDMs): greys told apart by dashes.
REF_STYLES = [("0.15", (0, (4, 1.5))), ("0.45", (0, (1, 1))), ("0.3", (0, (5, 1.5, 1, 1.5))),
              ("0.55", (0, (8, 2))), ("0.05", (0, (2, 2))), ("0.65", (0, (3, 1, 1, 1, 1, 1)))]
VARIATION_NAMES = {0: "no variation", 3: "medium variation", 6: "high variation"}


# ----------------------------------------------------------------------------- helpers
def save_figure(fig, png_path) -> None:
    """Write ``x.png`` and ``x.pdf``, both or neither (atomic renames), and close ``fig``."""
    png_path = Path(png_path)
    try:
        # Nested so that a failure in the second savefig leaves neither file behind.
        with atomic_path(png_path) as png_tmp, atomic_path(png_path.with_suffix(".pdf")) as pdf_tmp:
            # The temporary names end in a random suffix, so the format must be explicit. A small
            # pad: the figure is drawn at its print width, and the saved file keeps that width.
            fig.savefig(png_tmp, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.02)
            # No creation date: a figure is a result, the same bytes on every rerun.
            fig.savefig(pdf_tmp, format="pdf", bbox_inches="tight", pad_inches=0.02,
                        metadata={"CreationDate": None})
    finally:
        plt.close(fig)


def read_table(src, columns, dropna=None) -> pd.DataFrame:
    """A tidy table from a CSV path or DataFrame, with ``columns`` checked and rows with NaN in
    ``dropna`` (default: all of ``columns``) dropped; other columns are kept, whatever they are."""
    name = "<DataFrame>" if isinstance(src, pd.DataFrame) else str(src)
    if isinstance(src, pd.DataFrame):
        df = src.copy()
    else:
        df = read_csv(src)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {missing}")
    df = df.dropna(subset=list(columns if dropna is None else dropna))
    if df.empty:
        raise InputError(f"{name}: no rows with values in all of {list(columns if dropna is None else dropna)}")
    # Layer names such as "1" would otherwise be read as numbers and sorted as such.
    for c in ("arch", "task", "layer", "region", "ground_truth_layer"):
        if c in df.columns:
            df[c] = df[c].astype(str)
    return df


def _name(src) -> str:
    return "<DataFrame>" if isinstance(src, pd.DataFrame) else str(src)


def _wrap(text: str, width_in: float, size: float = FONT) -> str:
    """``text`` wrapped line by line to ``width_in`` inches at ``size`` points (a character of
    DejaVu Sans is ~0.55 em wide on average)."""
    chars = max(10, int(width_in * 72 / (0.55 * size)))
    return "\n".join(textwrap.fill(line, chars, break_on_hyphens=False) if line else "" for line in text.split("\n"))


def _figure(name: str, height: float, **kw):
    """A figure of figure ``name``'s print width (a hair less: the saved file adds its pad)."""
    return plt.figure(figsize=(WIDTH[name] - 0.05, height), layout="constrained", **kw)


def _titles(fig, title: str, data_label: str, width: float) -> None:
    """One title line (the figure's message) and the data it is drawn from, wrapped to the width."""
    fig.suptitle(_wrap(title + (f"\ndata: {data_label}" if data_label else ""), width - 0.15, TITLE_FONT))


def _legend(fig, handles, width: float, ncols: int | None = None) -> None:
    """One legend for the whole figure, below the panels (above, it would collide with the
    title), every label wrapped to its column's width."""
    ncols = ncols or max(1, min(len(handles), int(width // 2.3)))
    labels = [_wrap((h[-1] if isinstance(h, tuple) else h).get_label(), width / ncols - 0.45, 7) for h in handles]
    fig.legend(handles=handles, labels=labels, loc="outside lower center", ncols=ncols, frameon=False,
               handler_map={SideBySide: HandlerTuple(ndivide=None, pad=0.3), tuple: HandlerTuple(ndivide=1)})


class SideBySide(tuple):
    """Legend marks drawn side by side in one entry (a plain tuple's are drawn over each other)."""


def _band_handle(color, style, label, marker="o"):
    """A legend entry that is the mark it explains: the mean line over its ±1 sd band."""
    line = Line2D([], [], color=color, ls=style, marker=marker, ms=3.5, label=label)
    return (Patch(facecolor=color, alpha=0.25, lw=0), line)


def _task_colors(tasks) -> dict:
    """Fixed colours per task, supervised first, so that every figure uses the same ones."""
    ordered = [t for t in TASK_STYLE if t in set(tasks)] + sorted(set(tasks) - set(TASK_STYLE))
    return dict(zip(ordered, sns.color_palette("deep")))


def _arch_colors(archs) -> dict:
    """Architecture colours distinct from the task colours (blue, orange), so the two never mix."""
    archs = sorted(set(archs))
    return dict(zip(archs, sns.color_palette("deep", len(archs) + 2)[2:]))


def _task_marker(task: str) -> str:
    return TASK_MARKER.get(task, "s")


def _ordered_layers(df: pd.DataFrame) -> list[str]:
    return list(df.sort_values("layer_index")["layer"].drop_duplicates())


def _regions(df) -> list[str]:
    return [g for g in REGIONS if g in set(df["region"])] + sorted(set(df["region"]) - set(REGIONS))


def _model_name(model: str) -> str:
    """'alexnet/supervised_seed0' -> 'alexnet supervised, seed 0' (other ids as they are)."""
    arch, _, rest = str(model).partition("/")
    task, sep, seed = rest.rpartition("_seed")
    return f"{arch} {task}, seed {seed}" if sep and arch else str(model)


def _rotate(ax, labels) -> None:
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", rotation_mode="anchor")


def _mean_band_seeds(ax, x, st, seed_x, seed_y, color, style, marker="o") -> None:
    """Mean over seeds (line), +-1 sd band (none with one seed) and each seed (faint dots)."""
    sd = st["std"].fillna(0.0)
    ax.plot(x, st["mean"], ls=style, marker=marker, ms=3.5, lw=1.2, color=color)
    ax.fill_between(x, st["mean"] - sd, st["mean"] + sd, color=color, alpha=0.25, lw=0)
    ax.scatter(seed_x, seed_y, s=5, color=color, alpha=0.45, lw=0, zorder=3)


def _profile(ax, df, value, colors, mark_best=True):
    """Per-layer mean over seeds (line), +-1 sd band and each seed (faint dots) for every task.

    x is the depth rank, so layers are evenly spaced whatever the gaps in ``layer_index``.
    """
    layers = _ordered_layers(df)
    pos = {layer: i for i, layer in enumerate(layers)}
    tasks = [t for t in colors if t in set(df["task"])]
    for k, task in enumerate(tasks):
        g = df[df["task"] == task]
        st = g.groupby("layer")[value].agg(["mean", "std"]).reindex(layers).dropna(subset=["mean"])
        c = colors[task]
        # A small per-task offset keeps the seeds of the two tasks from hiding each other.
        _mean_band_seeds(ax, st.index.map(pos), st, g["layer"].map(pos) + 0.08 * (k - (len(tasks) - 1) / 2),
                         g[value], c, TASK_STYLE.get(task, ":"))
        if mark_best and task == "supervised" and len(st):
            best = st["mean"].idxmax()
            ax.scatter([pos[best]], [st["mean"][best]], marker="*", s=70, color=c, edgecolor="black", lw=0.6,
                       zorder=5)
    _rotate(ax, layers)
    ax.set_xlim(-0.4, len(layers) - 0.6)
    ax.set_xlabel("layer (input → output)")


RAW_R2_LABEL = "signed r² (raw: no noise ceiling,\nnot a fraction of explainable variance)"
# comparison.method pls: the area score is Brain-Score's aggregate, not a median of site scores.
BS_LABEL = "Brain-Score ceiled score:\n(mean over splits of median r)² / ceiling"
BS_RAW_LABEL = "Brain-Score raw score, signed (mean over\nsplits of median r)² (no noise ceiling)"


def _brainscore(df) -> bool:
    return "convention" in df and bool((df["convention"].astype(str) == "brainscore").any())


def _ev_axis_label(df, median: bool = True) -> str:
    """The label of an axis of ``ev_median``-like values: a fraction of explainable variance
    only where a ceiling divides it; regions without one (``ceiling_normalised`` False) named."""
    flag = df["ceiling_normalised"].astype(bool) if "ceiling_normalised" in df else pd.Series(True, df.index)
    raw = sorted(df.loc[~flag, "region"].unique()) if "region" in df else ([] if flag.all() else ["all"])
    if _brainscore(df):
        return (BS_LABEL + f";\nraw for {', '.join(raw)} (no noise ceiling)" if raw and flag.any()
                else BS_RAW_LABEL if raw else BS_LABEL)
    prefix = "median over sites: " if median else ""
    if not raw:
        return MEDIAN_EV_LABEL if median else EV_LABEL
    if flag.any():
        return f"{prefix}fraction of explainable variance,\nraw signed r² for {', '.join(raw)} (no noise ceiling)"
    return prefix + RAW_R2_LABEL


def _column_label(models, column: str) -> str:
    """Axis label of a models.csv score column, raw r² if its ``<column>_normalised`` says so."""
    flag = models.get(f"{column}_normalised")
    raw = flag is not None and not flag.astype(str).str.lower().isin(["true", "1", "1.0"]).any()
    if _brainscore(models):
        return BS_RAW_LABEL if raw else BS_LABEL
    return RAW_R2_LABEL if raw else EV_LABEL


def _profile_handles(colors, counts, unit="seed", mark_best=True, what="") -> list:
    """Legend entries of :func:`_profile`'s marks, with the n behind each task's line (``what``:
    what the line compares, before the n)."""
    several = max(counts.values(), default=1) > 1
    handles = []
    for t, c in colors.items():
        n = counts.get(t, 1)
        label = f"{t}{what}: mean ± 1 sd of {n} {unit}s" if n > 1 else f"{t}{what} (1 {unit})"
        handles.append(_band_handle(c, TASK_STYLE.get(t, ":"), label) if n > 1 else
                       Line2D([], [], color=c, ls=TASK_STYLE.get(t, ":"), marker="o", ms=3.5, label=label))
    if several:  # with one seed there is no spread to explain
        handles.append(Line2D([], [], ls="", marker="o", ms=3, color="grey", alpha=0.6, label=f"one {unit}"))
    if mark_best:
        handles.append(Line2D([], [], ls="", marker="*", ms=8, color=colors.get("supervised", "grey"),
                              markeredgecolor="black", mew=0.6, label="best layer (supervised mean)"))
    return handles


def _n_pairs(df) -> dict:
    """Seed pairs per layer (not rows), the unit of the spread shown, per task."""
    return df.groupby(["task", "arch", "layer"]).size().groupby("task").max().to_dict()


def _references(df, value, refs=None) -> pd.DataFrame:
    """Horizontal reference lines per region: each external model (no layers in depth: pixels,
    a Gabor bank) at its best layer (mean over seeds), and the published references (``refs``:
    reference, region, value)."""
    ext = df[df["task"] == EXTERNAL]
    rows = (ext.groupby(["arch", "region", "layer"])[value].mean().groupby(["arch", "region"]).max()
            .rename("value").reset_index().rename(columns={"arch": "reference"}))
    rows["label"] = rows["reference"] + " (external, best layer)"
    if refs is not None and len(refs):
        r = refs.rename(columns={value: "value"})[["reference", "region", "value"]].copy()
        r["label"] = r["reference"] + " (published reference)"
        rows = pd.concat([rows, r], ignore_index=True)
    return rows


def _profile_panels(fig, df, value, ylabel, title="{arch} → {region}", per_row=4, refs=None, extra=()):
    """One panel per (architecture, region), regions side by side and as many architectures per
    row as fit ``per_row`` panels; external models (and published references) as horizontal
    lines in every panel of their region; one legend."""
    networks = df[df["task"] != EXTERNAL]
    if networks.empty:
        networks = df  # only external models: draw them as profiles after all
    colors, archs, regions = _task_colors(networks["task"]), sorted(networks["arch"].unique()), _regions(df)
    lines = _references(df, value, refs) if len(networks) < len(df) or refs is not None else pd.DataFrame()
    styles = {r: s for r, s in zip(dict.fromkeys(lines["reference"]) if len(lines) else [], REF_STYLES * 3)}
    for r in set(lines["reference"][lines["label"].str.contains("published")]) if len(lines) else ():
        styles[r] = ("saddlebrown", styles[r][1])  # published references in brown, external models in grey
    ncols = len(regions) * max(1, per_row // len(regions))
    panels = [(a, r) for a in archs for r in regions]
    nrows = -(-len(panels) // ncols)
    panel_fig = fig.subfigures(1, 1)  # its y label beside the panels only, the legend below them
    axes = panel_fig.subplots(nrows, min(ncols, len(panels)), squeeze=False, sharey=True)
    for ax in axes.flat[len(panels):]:
        ax.remove()  # no empty panels
    for k, (arch, region) in enumerate(panels):
        ax = axes.flat[k]
        _profile(ax, networks[(networks["arch"] == arch) & (networks["region"] == region)], value, colors)
        ax.axhline(0, color="black", lw=0.5)
        for ref in (lines[lines["region"] == region].itertuples() if len(lines) else ()):
            color, dash = styles[ref.reference]
            ax.axhline(ref.value, color=color, ls=dash, lw=1.0)
        ax.set_title(title.format(arch=arch, region=region))
        if k + ncols < len(panels):  # the x label under the lowest panel of each column only
            ax.set_xlabel("")
        if k % ncols:
            ax.set_ylabel("")
    panel_fig.supylabel(ylabel)  # one label for all rows: a long label per row would overlap
    handles = _profile_handles(colors, networks.groupby("task")["seed"].nunique().to_dict())
    seen = dict(zip(lines["reference"], lines["label"])) if len(lines) else {}
    handles += [Line2D([], [], color=styles[r][0], ls=styles[r][1], lw=1.0, label=label) for r, label in seen.items()]
    _legend(fig, handles + list(extra), _width(fig))
    return axes


def _width(fig) -> float:
    """The print width of a figure or subfigure (a subfigure spans its figure's width here)."""
    while not isinstance(fig, matplotlib.figure.Figure):
        fig = fig.figure
    return float(fig.get_figwidth())


# ----------------------------------------------------------------------------- figures
def plot_montage(stimuli, out_png, data_label: str = "", *, per_cell: int = 3) -> None:
    """Example images: rows = categories, column groups = variation levels, different objects
    first. ``data_label`` is not printed: the figure shows stimuli, not recordings."""
    if isinstance(stimuli, xr.DataArray):
        da, name = stimuli, "<DataArray>"
    else:
        from ..data.stimulus_sets import load_stimulus_set

        da, name = load_stimulus_set(stimuli), str(stimuli)
    for c in ("category_name", "object_name", "variation"):
        if c not in da.coords:
            raise InputError(f"{name}: missing coordinate {c!r}")
    cat_of, obj_of, var_of = (da[c].values for c in ("category_name", "object_name", "variation"))
    cats = da.attrs["categories"].split(",") if "categories" in da.attrs else list(dict.fromkeys(cat_of))
    levels = sorted(np.unique(var_of))
    # A narrow empty column between variation levels groups the images; a fixed grid of square
    # images (no layout engine), the category names left of it, kept by the tight bounding box.
    widths = sum(([1] * per_cell + [0.25] for _ in levels), [])[:-1]
    width, left_in, top_in, space = WIDTH["montage"] - 0.05, 0.62, 0.42, 0.04
    grid_w = width - left_in - 0.02
    cell = grid_w / (sum(widths) + space * (len(widths) - 1) * sum(widths) / len(widths))
    height = len(cats) * cell * (1 + space) + top_in
    fig = plt.figure(figsize=(width, height))
    gs = fig.add_gridspec(len(cats), len(widths), width_ratios=widths, wspace=space, hspace=space,
                          left=left_in / width, right=1 - 0.02 / width, top=1 - top_in / height, bottom=0.01)
    for i, cat in enumerate(cats):
        for j, level in enumerate(levels):
            idx = np.flatnonzero((cat_of == cat) & (var_of == level))
            # First image of each distinct object, then more poses if there are too few objects.
            firsts = [idx[np.argmax(obj_of[idx] == o)] for o in dict.fromkeys(obj_of[idx])]
            picks = (firsts + [k for k in idx if k not in firsts])[:per_cell]
            for k, p in enumerate(picks):
                ax = fig.add_subplot(gs[i, j * (per_cell + 1) + k])
                ax.imshow(da.values[p], interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
                if k == 0 and j == 0:
                    ax.set_ylabel(cat, rotation=0, ha="right", va="center", labelpad=3)
            if i == 0:
                first_col = j * (per_cell + 1)
                a, b = gs[0, first_col].get_position(fig), gs[0, first_col + per_cell - 1].get_position(fig)
                fig.text((a.x0 + b.x1) / 2, a.y1 + 0.03 / height, f"V{level}: {VARIATION_NAMES.get(int(level), '')}",
                         ha="center", va="bottom", fontsize=8)
    fig.suptitle(f"Test images: {len(cats)} categories × {len(levels)} variation levels "
                 f"({da.sizes['presentation']} images in all)", y=1 - 0.04 / height, va="top")
    save_figure(fig, out_png)


def plot_layer_profiles(predictivity_csv, out_png, data_label: str) -> None:
    """Ceiling-normalised explained variance of every layer, per architecture and region;
    external models (no layers in depth) as horizontal lines at their best layer."""
    df = read_table(predictivity_csv, ["arch", "task", "seed", "layer", "layer_index", "region", "ev_median"])
    nets = df[df["task"] != EXTERNAL] if (df["task"] != EXTERNAL).any() else df
    regions = _regions(df)
    ncols = len(regions) * max(1, 4 // len(regions))
    nrows = -(-nets["arch"].nunique() * len(regions) // ncols)
    fig = _figure("layer_profiles", 1.75 * nrows + 1.3)
    axes = _profile_panels(fig, df, "ev_median", _ev_axis_label(df))
    # 0..1 is the meaningful range; widen only if a value falls outside it.
    axes.flat[0].set_ylim(min(0, df["ev_median"].min() - 0.05), max(1, df["ev_median"].max() + 0.02))
    _titles(fig, "Neural predictivity of each layer", data_label, WIDTH["layer_profiles"])
    save_figure(fig, out_png)


def _pearson_ci(x, y) -> dict | None:
    """``statistics.correlation_ci`` (seeded, so a figure is the same on every run), or None
    where r cannot be computed (fewer than 3 points, or no variation)."""
    try:
        return correlation_ci(x, y, n_boot=10000, seed=0)
    except ValueError:
        return None


def _r_row(what: str, ci: dict | None, n: int, interval: str, **extra) -> dict:
    """One row of a figure's statistics table: Pearson r with its 95% interval (NaN where not
    computed) and what the interval resamples."""
    ci = ci or {}
    return {"models": what, "n": n, **extra, "r": ci.get("r", np.nan), "r_low": ci.get("low", np.nan),
            "r_high": ci.get("high", np.nan), "interval": interval}


ARCH_INTERVAL = ("95% percentile bootstrap over architectures (all seeds of a drawn architecture together); "
                 "none with fewer than 3 architectures")


def performance_statistics(df) -> pd.DataFrame:
    """Pearson r of categorisation performance and IT predictivity, within the supervised
    models (the comparison of Yamins et al. 2014) and over all models (mostly the trained vs
    untrained clusters), each with :data:`ARCH_INTERVAL`."""
    rows = []
    for what, d in (("supervised", df[df["task"] == "supervised"]), ("all", df)):
        ci = arch_bootstrap_r(d, "performance", "it_ev")
        rows.append(_r_row(what, ci if np.isfinite(ci["r"]) else None, ci["n"], ARCH_INTERVAL,
                           n_archs=ci["n_archs"]))
    return pd.DataFrame(rows)


def _clusters(x, gap: float = 0.5) -> list[tuple[float, float]]:
    """The x ranges to show: two, either side of a gap wider than ``gap`` of the whole range
    (chance-level untrained networks and trained ones), else one."""
    xs = np.sort(np.asarray(x, float))
    if len(xs) > 2 and np.ptp(xs) > 0:
        k = int(np.argmax(np.diff(xs)))
        if xs[k + 1] - xs[k] > gap * np.ptp(xs):
            return [(xs[0], xs[k]), (xs[k + 1], xs[-1])]
    return [(xs[0], xs[-1])]


def _broken_x(fig, ranges, min_pad: float = 1.5):
    """One panel per x range, sharing y, widths in proportion to the ranges shown (each at least
    a third of the widest), with break marks between them."""
    pads = [max(min_pad, 0.12 * (hi - lo)) for lo, hi in ranges]
    spans = [hi - lo + 2 * p for (lo, hi), p in zip(ranges, pads)]
    ratios = [max(s, max(spans) / 3) for s in spans]
    axes = fig.subplots(1, len(ranges), sharey=True, width_ratios=ratios, squeeze=False,
                        gridspec_kw={"wspace": 0.04})[0]
    for ax, (lo, hi), pad, ratio, span in zip(axes, ranges, pads, ratios, spans):
        extra = (ratio - span) / 2
        ax.set_xlim(lo - pad - extra, hi + pad + extra)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=max(2, int(4 * ratio / sum(ratios)) + 1), integer=True))
    for left, right in zip(axes[:-1], axes[1:]):
        left.spines["right"].set_visible(False), right.spines["left"].set_visible(False)
        right.tick_params(axis="y", left=False)
        for ax, x in ((left, 1), (right, 0)):  # the break: two short diagonal strokes
            ax.plot([x, x], [0, 1], transform=ax.transAxes, ls="", marker=[(-1, -2), (1, 2)], ms=6, mew=0.8,
                    color="black", clip_on=False)
    return list(axes)


def plot_performance_vs_it(models_csv, out_png, data_label: str) -> pd.DataFrame:
    """Categorisation performance against IT predictivity (layer chosen on held-out sites), one
    point per model, the x axis broken between the untrained and the trained models where they
    form two clusters. Returns r within the supervised and over all models, with its interval
    over architectures (:func:`performance_statistics`); the canvas shows no statistics."""
    df = read_table(models_csv, ["arch", "task", "seed", "test_accuracy", "it_ev"])
    df = df.assign(performance=100 * df["test_accuracy"].astype(float))
    stats = performance_statistics(df)
    colors, tasks = _arch_colors(df["arch"]), list(_task_colors(df["task"]))
    fig = _figure("performance_vs_it", 3.7)
    panel_fig = fig.subfigures(1, 1)  # its x label, then the figure's legend, each in its own space
    axes = _broken_x(panel_fig, _clusters(df["performance"]))
    trained = df[df["task"] == "supervised"]
    fit = np.isfinite(stats["r"].iloc[0]) and trained["performance"].nunique() > 1
    for ax in axes:
        for (arch, task), g in df.groupby(["arch", "task"]):
            ax.scatter(g["performance"], g["it_ev"], s=22, color=colors[arch], marker=_task_marker(task),
                       edgecolor="white", lw=0.4, zorder=3)
        if fit:  # no seaborn band: its bootstrap is unseeded and treats seeds as independent models
            slope, icept = np.polyfit(trained["performance"], trained["it_ev"], 1)
            xs = np.array([trained["performance"].min(), trained["performance"].max()])
            ax.plot(xs, icept + slope * xs, color="0.3", lw=1.0, zorder=2)
    axes[0].set_ylabel("IT predictivity, best layer (held out):\n" + _column_label(df, "it_ev").replace("\n", " "))
    axes[0].yaxis.label.set_text(_wrap(axes[0].get_ylabel(), 3.0))
    panel_fig.supxlabel("categorisation performance (test accuracy, %)")
    handles = [Line2D([], [], ls="", marker="o", ms=4.5, color=c, label=a) for a, c in colors.items()]
    handles += [Line2D([], [], ls="", marker=_task_marker(t), ms=4.5, color="0.35", label=t) for t in tasks]
    if fit:
        handles.append(Line2D([], [], color="0.3", lw=1.0, label="least-squares line, supervised models"))
    _legend(fig, handles, SINGLE, ncols=2)
    _titles(fig, "Categorisation performance vs IT predictivity", data_label, SINGLE)
    save_figure(fig, out_png)
    return stats


def _load_rdms(rdms) -> xr.DataArray:
    da = rdms if isinstance(rdms, xr.DataArray) else open_netcdf(rdms)
    if not is_rdm_assembly(da):
        name = "<DataArray>" if isinstance(rdms, xr.DataArray) else str(rdms)
        raise InputError(f"{name}: expected dims ('source', 'stimulus_a', 'stimulus_b'), got {da.dims}")
    return da


def rank_rdm(m: np.ndarray) -> np.ndarray:
    """An RDM as percentiles (0-100) of its own off-diagonal dissimilarities (ties share their
    mean rank), NaN on the diagonal: RDMs of different ranges show their structure alike."""
    m = np.asarray(m, float)
    out = np.full(m.shape, np.nan)
    off = ~np.eye(len(m), dtype=bool) & np.isfinite(m)
    if off.sum() > 1:
        out[off] = 100 * (rankdata(m[off]) - 1) / (off.sum() - 1)
    return out


def _rdm_title(src: str, rsa) -> str:
    """'hmo/supervised_seed0 · layer3' -> the model, its layer and the area it matches best."""
    model, sep, layer = src.partition(" · ")
    if not sep:
        return src
    rows = rsa[(rsa["model"] == model) & (rsa["layer"] == layer)] if "model" in rsa else rsa.iloc[:0]
    best = f"\nhighest RSA: {rows.loc[rows['rsa'].idxmax(), 'region']}" if len(rows) else ""
    return f"{_model_name(model)}, {layer}{best}"


def plot_rsa(rsa_csv, rdms_nc, out_png, data_label: str, references_csv=None) -> None:
    """Top: the RDMs of the areas and of one model layer (the supervised layer with the highest
    RSA, summarise's choice), each coloured by the percentile of its own dissimilarities.
    Bottom: per-layer RSA with seed spread, the noise ceiling, and external models and
    published reference RDMs as horizontal lines."""
    df = read_table(rsa_csv, ["arch", "task", "seed", "layer", "layer_index", "region", "rsa"])
    refs = read_csv(references_csv) if references_csv else None
    rdms = _load_rdms(rdms_nc)
    sources = [str(s) for s in rdms["source"].values]
    nets = df[df["task"] != EXTERNAL] if (df["task"] != EXTERNAL).any() else df
    regions = _regions(df)
    ncols = len(regions) * max(1, 4 // len(regions))
    nrows = -(-nets["arch"].nunique() * len(regions) // ncols)
    fig = _figure("rsa", 2.5 + 1.45 * nrows + 1.2)
    top, bottom = fig.subfigures(2, 1, height_ratios=[2.5, 1.45 * nrows + 1.2])
    cats = rdms["category_name"].values if "category_name" in rdms.coords else None
    axes_top = top.subplots(1, len(sources), squeeze=False)[0]
    for i, (ax, src) in enumerate(zip(axes_top, sources)):
        im = ax.imshow(rank_rdm(rdms.values[i]), cmap="viridis", vmin=0, vmax=100, interpolation="nearest")
        ax.set_title(_rdm_title(src, df), fontsize=7.5)
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        if cats is not None:  # stimuli are sorted by category: draw block edges, name the blocks
            edges = np.flatnonzero(cats[1:] != cats[:-1]) + 0.5
            for e in edges:
                ax.axhline(e, color="white", lw=0.4), ax.axvline(e, color="white", lw=0.4)
            if i == 0:
                bounds = np.r_[-0.5, edges, len(cats) - 0.5]
                ax.set_yticks((bounds[:-1] + bounds[1:]) / 2, cats[(bounds[:-1] + 0.5).astype(int)], fontsize=7)
    top.colorbar(im, ax=axes_top.tolist(), label="dissimilarity (1 − Pearson r),\npercentile within each RDM",
                 shrink=0.85)
    top.suptitle(f"RDMs of {rdms.sizes['stimulus_a']} images, sorted by category", fontsize=8)
    ceiling = (df[["region", "rsa_ceiling_low", "rsa_ceiling_high"]].dropna().drop_duplicates("region")
               if "rsa_ceiling_low" in df else pd.DataFrame())
    extra = [Patch(color="grey", alpha=0.3, lw=0, label="noise ceiling (lower to upper bound)")] if len(ceiling) else []
    axes = _profile_panels(bottom, df, "rsa", "RSA: Spearman ρ of the two RDMs", title="{arch} vs {region}",
                           refs=refs, extra=extra)
    panels = [(a, r) for a in sorted(nets["arch"].unique()) for r in regions]
    for ax, (_, region) in zip(axes.flat, panels):
        c = ceiling[ceiling["region"] == region] if len(ceiling) else ceiling
        if len(c):  # what a perfect model could reach given the data's noise
            ax.axhspan(c["rsa_ceiling_low"].iloc[0], c["rsa_ceiling_high"].iloc[0], color="grey", alpha=0.3, lw=0)
    _titles(fig, "Representational similarity of each layer to each area", data_label, WIDTH["rsa"])
    save_figure(fig, out_png)


def plot_cka(similarity_csv, out_png, data_label: str = "") -> None:
    """Cross-seed debiased linear CKA per layer, with its references: the shuffled-image null
    (up to its 95th percentile), each other architecture at matched relative depth and raw
    pixels (the floor), both for the first task (supervised), from ``goaldriven similarity``'s
    table. ``data_label`` is not printed: network is compared with network, not with recordings."""
    from ..compare.similarity import depth_matched

    cols = ["model_a", "model_b", "arch_a", "arch_b", "task_a", "task_b", "seed_a", "seed_b", "layer_a", "layer_b",
            "layer_index_a", "layer_index_b", "depth_a", "depth_b", "cka_debiased", "null_p95"]
    df = depth_matched(read_table(similarity_csv, cols, dropna=["cka_debiased"]))
    colors, archs = _task_colors(df["task"]), sorted(df["arch"].unique())
    arch_colors, first_task = _arch_colors(archs), next(iter(_task_colors(df["task"])))
    fig = _figure("cka", 2.3 + 0.25 * (len(colors) + len(archs)))
    axes = fig.subplots(1, len(archs), squeeze=False, sharey=True)[0]
    for ax, arch in zip(axes, archs):
        d = df[df["arch"] == arch]
        layers = _ordered_layers(d)
        x = np.arange(len(layers))
        null = d.groupby("layer")["null_p95"].mean().reindex(layers).to_numpy(float)
        # The null is small next to CKA's range: a band and a line on its top, so it stays visible.
        ax.fill_between(x, 0, null, color="0.55", alpha=0.45, lw=0)
        ax.plot(x, null, color="0.35", lw=1.0)
        seeds = d[d["reference"] == "cross-seed"]
        if len(seeds):
            _profile(ax, seeds, "cka_debiased", colors, mark_best=False)
        refs = d[(d["reference"] != "cross-seed") & (d["task"] == first_task)]
        for ref, g in refs.groupby("reference"):
            m = g.groupby("layer")["cka_debiased"].mean().reindex(layers)
            if ref == "pixels":
                ax.plot(x, m.values, ls=":", color="black", lw=1.1)
            else:
                ax.plot(x, m.values, ls="-", color=arch_colors.get(ref[3:], "grey"), lw=0.9, marker="s", ms=2.5)
        _rotate(ax, layers)
        ax.set_xlim(-0.4, len(layers) - 0.6)
        ax.set_xlabel("layer (input → output)")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_title(arch)
        ax.set_ylim(min(-0.05, float(np.nanmin(d["cka_debiased"])) - 0.02), 1.02)
    axes[0].set_ylabel("debiased linear CKA (0 = unrelated)")
    cross = df[df["reference"] == "cross-seed"]
    counts = _n_pairs(cross) if len(cross) else {}
    handles = _profile_handles({t: c for t, c in colors.items() if t in counts} or colors,
                               counts or {t: 1 for t in colors}, unit="seed pair", mark_best=False,
                               what=", seed vs seed")
    handles += [(Patch(facecolor="0.55", alpha=0.45, lw=0), Line2D([], [], color="0.35", lw=1.0,
                 label="null: 95th percentile of CKA with images shuffled"))]
    handles += [Line2D([], [], color=c, marker="s", ms=2.5, lw=0.9, label=f"vs {a} at matched depth ({first_task})")
                for a, c in arch_colors.items() if f"vs {a}" in set(df["reference"])]
    if (df["reference"] == "pixels").any():
        handles.append(Line2D([], [], ls=":", color="black", lw=1.1, label=f"vs raw pixels ({first_task})"))
    _legend(fig, handles, DOUBLE)
    _titles(fig, "Convergence across seeds, layer by layer", "", DOUBLE)
    save_figure(fig, out_png)


def plot_correspondence(similarity_csv, out_png, data_label: str = "") -> pd.DataFrame:
    """Layer x layer debiased CKA (Kornblith et al. 2019's correspondence test): two seeds of
    each architecture (first task, first two seeds; top row) and two architectures (seed 0 of
    each; bottom row). Returns the fraction of layers whose most similar layer in the other
    seed is their counterpart (as ``correspondence.csv``'s ``fraction_corresponding``).
    ``data_label`` is not printed: networks are compared with networks."""
    from ..compare.similarity import layer_square, layer_correspondence

    cols = ["model_a", "model_b", "arch_a", "arch_b", "task_a", "layer_a", "layer_b", "layer_index_a",
            "layer_index_b", "cka_debiased"]
    df = read_table(similarity_csv, cols, dropna=["cka_debiased"])
    df = df[(df["arch_a"] != "pixels") & (df["arch_b"] != "pixels")]
    models = (pd.concat([df[["model_a", "arch_a"]].set_axis(["model", "arch"], axis=1),
                         df[["model_b", "arch_b"]].set_axis(["model", "arch"], axis=1)])
              .drop_duplicates("model").sort_values("model"))
    task = "supervised" if "supervised" in set(df["task_a"]) else sorted(set(df["task_a"]))[0]
    models = models[models["model"].str.contains(f"/{task}_seed")]
    same = [tuple(g["model"].iloc[:2]) for _, g in models.groupby("arch") if len(g) >= 2]
    firsts = [g["model"].iloc[0] for _, g in models.groupby("arch")]
    cross = list(zip(firsts, firsts[1:]))
    if not same and not cross:
        raise InputError(f"{_name(similarity_csv)}: no two models of one task to compare")
    # Up to three panels in one row; more: the seed pairs in one row, the architecture pairs below.
    rows = [same + cross] if len(same) + len(cross) <= 3 else [p for p in (same, cross) if p]
    ncols = max(len(p) for p in rows)
    fig = _figure("correspondence", 2.3 * len(rows) + 0.9)
    grid = fig.add_gridspec(len(rows), ncols)
    stats, axes = [], []
    for i, panels in enumerate(rows):
        for j, (ma, mb) in enumerate(panels):
            ax = fig.add_subplot(grid[i, j])
            axes.append(ax)
            S = layer_square(df, ma, mb)
            im = ax.imshow(S.values, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
            best = np.nanargmax(S.values, axis=1)
            ax.scatter(best, range(len(S)), marker="o", facecolor="none", edgecolor="#ff2a6d", s=22, lw=1.1)
            arch_a, arch_b = ma.split("/")[0], mb.split("/")[0]
            if arch_a == arch_b:
                ax.plot([-0.5, S.shape[1] - 0.5], [-0.5, S.shape[0] - 0.5], color="white", ls="--", lw=0.7)
                stats.append({"arch": arch_a, "task": task, "model_a": ma, "model_b": mb, "n_layers": len(S),
                              "fraction_corresponding": layer_correspondence(S.values)})
            _rotate(ax, list(S.columns))
            ax.set_yticks(range(S.shape[0]), S.index)
            ax.set_xlabel(_model_name(mb).replace(f" {task},", ","))
            ax.set_ylabel(_model_name(ma).replace(f" {task},", ","))
            ax.set_title(f"two seeds of {arch_a}" if arch_a == arch_b else f"{arch_a} vs {arch_b}")
            ax.grid(False)
    fig.colorbar(im, ax=axes, label="debiased linear CKA", shrink=0.6)
    handles = [Line2D([], [], ls="", marker="o", mfc="none", mec="#ff2a6d", mew=1.1, ms=4.5,
                      label="most similar layer of each row"),
               Line2D([], [], ls="--", color="0.4", lw=0.7, label="counterpart: the same layer (two seeds)")]
    _legend(fig, handles, DOUBLE, ncols=2)
    _titles(fig, f"Layer correspondence: is layer i of one {task} network most like layer i of another?", "",
            DOUBLE)
    save_figure(fig, out_png)
    return pd.DataFrame(stats, columns=["arch", "task", "model_a", "model_b", "n_layers", "fraction_corresponding"])


def plot_recovery(recovery_csv, out_png, data_label: str) -> pd.DataFrame:
    """Sanity check on simulated data: is the surrogate layer that generated an area found best?
    Returns, per area, the best layer and whether it is the ground truth."""
    df = read_table(recovery_csv, ["region", "layer", "layer_index", "ev_median", "ground_truth_layer"])
    regions = _regions(df)
    fig = _figure("recovery", 2.8)
    axes = fig.subplots(1, len(regions), squeeze=False, sharey=True)[0]
    stats = []
    for ax, region in zip(axes, regions):
        g = df[df["region"] == region].sort_values("layer_index").drop_duplicates("layer")
        layers, ev = list(g["layer"]), g["ev_median"].to_numpy(float)
        best, truth = int(np.argmax(ev)), g["ground_truth_layer"].iloc[0]
        ax.plot(range(len(g)), ev, marker="o", ms=3.5, color="C0")
        ax.scatter([best], [ev[best]], marker="*", s=90, color="gold", edgecolor="black", lw=0.6, zorder=5)
        if truth in layers:
            ax.axvline(layers.index(truth), ls="--", color="dimgrey", lw=1.0)
        ok = layers[best] == truth
        stats.append({"region": region, "best_layer": layers[best], "ground_truth_layer": truth, "recovered": ok})
        ax.set_title(f"{region}: {'recovered' if ok else 'NOT recovered'}", color="black" if ok else "firebrick")
        _rotate(ax, layers)
        ax.set_xlim(-0.4, len(layers) - 0.6)
        ax.margins(y=0.1)
        ax.set_xlabel("surrogate layer")
    axes[0].set_ylabel(MEDIAN_EV_LABEL)
    _legend(fig, [Line2D([], [], color="C0", marker="o", ms=3.5, label="predictivity of the layer"),
                  Line2D([], [], ls="", marker="*", ms=8, color="gold", markeredgecolor="black", mew=0.6,
                         label="best layer found"),
                  Line2D([], [], ls="--", color="dimgrey", lw=1.0,
                         label="ground truth: the layer that generated the area")],
            SINGLE, ncols=1)
    _titles(fig, "Recovery check: is the layer that generated each area found best?", data_label, SINGLE)
    save_figure(fig, out_png)
    return pd.DataFrame(stats)


MATCHING_ROWS = (("matched_r", "matched-unit r\n(mean over units)"),
                 ("frac_convergent", "fraction of units\nmatched above chance"),
                 ("cross_seed_r", "seed → seed linear map:\nheld-out r (median)"))


def plot_matching(matching_csvs, out_png, data_label: str = "") -> None:
    """Convergent learning (Li et al. 2016), one quantity per row, one architecture per column,
    colour = task throughout: one-to-one matched-unit correlation with its chance level, the
    fraction of units matched above chance, and the held-out r of a linear map from one seed's
    layer to the other's units. ``data_label`` is not printed: networks only."""
    cols = ["arch", "task", "layer", "layer_index", "seed_a", "seed_b", "matched_r", "chance_r",
            "frac_convergent", "cross_seed_r"]
    paths = [matching_csvs] if isinstance(matching_csvs, (str, Path, pd.DataFrame)) else matching_csvs
    df = pd.concat([read_table(p, cols) for p in paths], ignore_index=True)
    colors, archs = _task_colors(df["task"]), sorted(df["arch"].unique())
    fig = _figure("matching", 1.35 * len(MATCHING_ROWS) + 1.3)
    axes = fig.subplots(len(MATCHING_ROWS), len(archs), squeeze=False, sharey="row")
    for j, arch in enumerate(archs):
        d = df[df["arch"] == arch]
        pos = {layer: i for i, layer in enumerate(_ordered_layers(d))}
        for i, (value, label) in enumerate(MATCHING_ROWS):
            ax = axes[i, j]
            _profile(ax, d, value, colors, mark_best=False)
            if value == "matched_r":  # chance per task: shuffled images
                for task, g in d.groupby("task"):
                    chance = g.groupby("layer")["chance_r"].mean().reindex(list(pos)).dropna()
                    ax.plot(chance.index.map(pos), chance.values, ":", color=colors[task], lw=1.1)
            ax.set_ylim(0, 1.02)
            ax.set_title(arch if i == 0 else "")
            ax.set_ylabel(label if j == 0 else "")
            if i < len(MATCHING_ROWS) - 1:
                ax.set_xlabel(""), ax.tick_params(labelbottom=False)
    handles = _profile_handles(colors, _n_pairs(df), unit="seed pair", mark_best=False)
    handles.append(Line2D([], [], ls=":", color="0.3", lw=1.1, label="chance: matched r with images shuffled "
                                                                       "(dotted, in the task's colour)"))
    _legend(fig, handles, DOUBLE)
    _titles(fig, "Convergent learning across seeds (Li et al. 2016), layer by layer", "", DOUBLE)
    save_figure(fig, out_png)


def plot_seed_variance(models_csv, variance_csv, out_png, data_label: str) -> None:
    """Brain scores of every seed (layer chosen on held-out sites) beside the differences between
    architectures: each seed a point, the mean over seeds a bar and, where the variance table
    has it (``retest_sd``), the score's own test-retest noise as a ±1 sd whisker on the mean.
    The seed shares, their intervals and the ranking tests are in the variance table, not here."""
    models = read_table(models_csv, ["arch", "task", "seed", "v4_ev", "it_ev"])
    var = read_table(variance_csv, ["task", "metric"])
    colors, archs = _task_colors(models["task"]), sorted(models["arch"].unique())
    # The dodge of seaborn's stripplot: hue i of m centred at -0.4 + 0.8 (i + 0.5) / m.
    offset = {t: -0.4 + 0.8 * (i + 0.5) / len(colors) for i, t in enumerate(colors)}
    fig = _figure("seed_variance", 3.4)
    axes = fig.subplots(1, 2, squeeze=False)[0]
    for ax, metric, area in zip(axes, ("v4_ev", "it_ev"), REGIONS):
        d = models.melt(id_vars=["arch", "task", "seed"], value_vars=[metric], value_name="score")
        state = np.random.get_state()  # seaborn jitters with numpy's global generator: seeded, so
        np.random.seed(0)  # that the same tables draw a byte-identical figure
        try:
            sns.stripplot(d, x="arch", y="score", hue="task", order=archs, palette=colors,
                          hue_order=list(colors), dodge=True, size=3.5, jitter=0.08, ax=ax, legend=False)
        finally:
            np.random.set_state(state)
        rows = var[var["metric"] == metric]
        noise = dict(zip(rows["task"], rows["retest_sd"])) if "retest_sd" in rows else {}
        width = 0.6 / len(colors)
        for (arch, task), g in models.groupby(["arch", "task"]):
            x = archs.index(arch) + offset[task]
            ax.plot([x - width / 2, x + width / 2], [g[metric].mean()] * 2, color="black", lw=1.4, zorder=4)
            if pd.notna(noise.get(task, np.nan)):  # how far the metric alone moves a score
                ax.errorbar(x + width / 2 + 0.03, g[metric].mean(), yerr=noise[task], color="dimgrey", capsize=1.5,
                            lw=0.9, capthick=0.9)
        low, high = float(models[metric].min()), float(models[metric].max())
        pad = 0.08 * max(high - min(low, 0), 1e-3)
        ax.set_ylim(min(0, low - pad), high + pad)  # from 0: a score's distance from 0 is read off the axis
        ax.set_title(f"{area} predictivity (layer chosen on held-out sites)")
        ax.set(ylabel=_column_label(models, metric), xlabel="")
        if len(archs) > 4:
            _rotate(ax, archs)
    handles = [Line2D([], [], ls="", marker="o", ms=3.5, color=c, label=f"{t}: one seed") for t, c in colors.items()]
    handles.append(Line2D([], [], ls="", marker="_", ms=9, mew=1.4, color="black", label="mean over seeds"))
    if "retest_sd" in var and var["retest_sd"].notna().any():
        handles.append(Line2D([], [], ls="", marker="|", ms=8, mew=0.9, color="dimgrey",
                              label="±1 sd: the score's own noise (two halves of the sites)"))
    _legend(fig, handles, DOUBLE)
    _titles(fig, "Seed-to-seed spread of brain scores beside architecture differences", data_label, DOUBLE)
    save_figure(fig, out_png)


KIND_COLORS = {"most": "darkgreen", "least": "firebrick", "most_active": "navy", "least_active": "dimgrey"}
KIND_NAMES = {"most": "most convergent", "least": "least convergent", "most_active": "most active",
              "least_active": "least active"}


def plot_unit_examples(table_csv, stimuli_nc, out_png, data_label: str = "") -> None:
    """The images that drive the most and the least convergent unit of a layer most, and the
    most and least active unit of seed a (Li et al. 2016, Figs. S11-S12), where the table has
    them: the first-ranked pair of each kind, one row each, seed a's top images on the left,
    its match's in seed b on the right (the table of ``goaldriven unit-examples``, which holds
    every rank and each pair's correlation). ``data_label`` is not printed: networks only."""
    columns = ["model_a", "model_b", "layer", "unit_type", "kind", "rank", "unit_a", "unit_b", "r", "image_rank",
               "stimulus_id_a", "stimulus_id_b"]
    df = read_table(table_csv, columns)
    name = _name(table_csv)
    if len(df[["model_a", "model_b", "layer"]].drop_duplicates()) != 1:
        raise InputError(f"{name}: expected the units of one layer and one pair of seeds")
    if isinstance(stimuli_nc, xr.DataArray):
        stimuli, stimuli_name = stimuli_nc, "<DataArray>"
    else:
        from ..data.stimulus_sets import load_stimulus_set

        stimuli, stimuli_name = load_stimulus_set(stimuli_nc), str(stimuli_nc)
    where = {s: i for i, s in enumerate(stimuli["stimulus_id"].values.astype(str))}
    missing = sorted((set(df["stimulus_id_a"].astype(str)) | set(df["stimulus_id_b"].astype(str))) - set(where))
    if missing:
        raise InputError(f"{stimuli_name}: no stimulus {missing[0]!r} ({len(missing)} of {name}'s images missing)")
    df["kind_order"] = df["kind"].map({k: i for i, k in enumerate(KIND_NAMES)}).fillna(len(KIND_NAMES))
    # One pair per kind, its first rank (a pair that is also of an earlier kind is not repeated).
    units = (df.sort_values(["kind_order", "rank"]).drop_duplicates("kind")
             .drop_duplicates(["unit_a", "unit_b"]))
    k = int(df["image_rank"].max())
    widths = [1] * k + [0.3] + [1] * k  # a narrow gap between the two seeds
    # A fixed grid of square images, no layout engine: it would widen the columns under the
    # group titles. Labels outside the grid are kept by the tight bounding box on saving.
    width, left_in, top_in, space = WIDTH["unit_examples"] - 0.05, 1.05, 0.42, 0.05
    n_rows, n_cols = len(units), len(widths)
    cell = (width - left_in - 0.02) / (sum(widths) + space * (n_cols - 1) * sum(widths) / n_cols)
    height = n_rows * cell * (1 + space) + top_in
    fig = plt.figure(figsize=(width, height))
    gs = fig.add_gridspec(n_rows, n_cols, width_ratios=widths, wspace=space, hspace=space, left=left_in / width,
                          right=1 - 0.02 / width, top=1 - top_in / height, bottom=0.01)
    for i, u in enumerate(units.itertuples()):
        images = df[(df["kind"] == u.kind) & (df["rank"] == u.rank)].sort_values("image_rank")
        for offset, ids in ((0, images["stimulus_id_a"]), (k + 1, images["stimulus_id_b"])):
            for j, sid in enumerate(ids.astype(str)):
                ax = fig.add_subplot(gs[i, offset + j])
                ax.imshow(stimuli.values[where[sid]], interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
                if offset == 0 and j == 0:
                    ax.set_ylabel(f"{KIND_NAMES.get(u.kind, u.kind)}\n{u.unit_type} {u.unit_a} ↔ {u.unit_b}",
                                  rotation=0, ha="right", va="center", labelpad=3,
                                  color=KIND_COLORS.get(u.kind, "black"))
    first = units.iloc[0]
    for offset, model, what in ((0, first["model_a"], "top images"),
                                (k + 1, first["model_b"], "its match's top images")):
        a, b = gs[0, offset].get_position(fig), gs[0, offset + k - 1].get_position(fig)
        fig.text((a.x0 + b.x1) / 2, a.y1 + 0.04 / height, f"{_model_name(model)}: {what}", ha="center",
                 va="bottom", fontsize=7.5)
    fig.suptitle(f"Top images of convergent and non-convergent {first['unit_type']}s of {first['layer']} across seeds",
                 y=1 - 0.04 / height, va="top")
    save_figure(fig, out_png)


def _epoch_lines(ax, df, colors) -> None:
    """Per architecture and task: mean over seeds against epoch (line), +-1 sd band, each seed
    (faint dots), marked by task. An untrained control is one point, at epoch 0."""
    for (arch, task), g in df.groupby(["arch", "task"]):
        st = g.groupby("epoch")["ev_median"].agg(["mean", "std"])
        _mean_band_seeds(ax, st.index, st, g["epoch"], g["ev_median"], colors[arch], TASK_STYLE.get(task, ":"),
                         marker=_task_marker(task))
    ax.axhline(0, color="black", lw=0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training epoch (0 = untrained)")


def trajectory_statistics(it) -> pd.DataFrame:
    """Pearson r of test accuracy and IT predictivity over every checkpoint of every model, with
    its 95% percentile bootstrap over checkpoints (optimistic: the checkpoints of one run are
    not independent)."""
    ci = _pearson_ci(it["performance"], it["ev_median"])
    return pd.DataFrame([_r_row("every checkpoint", ci, len(it), "95% percentile bootstrap over checkpoints "
                                "(optimistic: the checkpoints of one run are not independent)",
                                n_models=it["model"].nunique())])


def _performance_panel(ax, it, colors) -> None:
    """Test accuracy against IT predictivity, every model and checkpoint; each run's
    checkpoints joined in epoch order, its final weights edged in black."""
    for model, g in it.groupby("model"):
        c = colors[g["arch"].iloc[0]]
        ax.plot(g["performance"], g["ev_median"], "-", lw=0.6, color=c, alpha=0.5)
        marker = _task_marker(g["task"].iloc[0])
        ax.scatter(g["performance"], g["ev_median"], s=14, color=c, marker=marker, alpha=0.8, lw=0, zorder=3)
        final = g[g["final"].astype(bool)]
        ax.scatter(final["performance"], final["ev_median"], s=14, marker=marker, facecolor="none",
                   edgecolor="black", lw=0.7, zorder=4)
    ax.set_xlabel("categorisation performance\n(test accuracy, %)")
    ax.set_title("IT predictivity vs performance,\nevery checkpoint")


def plot_trajectory(table_csv, out_png, data_label: str) -> pd.DataFrame:
    """Neural predictivity along training (the table of ``goaldriven trajectory``): each
    region's best-layer predictivity against epoch, and categorisation performance against IT
    predictivity across every model and checkpoint, all on one y axis. Returns r over the
    checkpoints (:func:`trajectory_statistics`); the canvas shows no statistics."""
    df = read_table(table_csv, ["model", "arch", "task", "seed", "epoch", "final", "test_accuracy", "region",
                                "ev_median"], dropna=["ev_median"])
    name = _name(table_csv)
    regions = _regions(df)
    if "IT" not in regions:
        raise InputError(f"{name}: no IT rows; the figure sets categorisation performance against IT predictivity")
    it = df[df["region"] == "IT"].dropna(subset=["test_accuracy"]).sort_values("epoch")
    if it.empty:
        raise InputError(f"{name}: no IT rows with a test_accuracy, so no performance panel")
    it = it.assign(performance=100 * it["test_accuracy"].astype(float))
    colors = _arch_colors(df["arch"])
    fig = _figure("trajectory", 3.6)
    axes = fig.subplots(1, len(regions) + 1, sharey=True, width_ratios=[1] * len(regions) + [1.15])
    for ax, region in zip(axes, regions):
        _epoch_lines(ax, df[df["region"] == region], colors)
        ax.set_title(f"{region}: best layer (held out),\nalong training")
    axes[0].set_ylabel(_ev_axis_label(df))
    _performance_panel(axes[-1], it, colors)
    tasks = list(dict.fromkeys(df.sort_values("epoch", ascending=False)["task"]))
    trained = set(df.loc[df["epoch"] > 0, "task"])
    handles = [Line2D([], [], color=c, lw=2.5, label=a) for a, c in colors.items()]
    handles += [Line2D([], [], color="0.35", ls=TASK_STYLE.get(t, ":"), marker=_task_marker(t), ms=3.5,
                       label=f"{t}: mean over seeds") if t in trained else
                Line2D([], [], color="0.35", ls="", marker=_task_marker(t), ms=4, label=f"{t}: epoch 0 only")
                for t in tasks]
    if df.groupby(["arch", "task", "epoch"])["seed"].nunique().max() > 1:  # with one seed there is no spread
        bands = [Patch(facecolor=c, alpha=0.25, lw=0) for c in colors.values()]
        bands[-1].set_label("±1 sd over seeds (band, in the architecture's colour)")
        handles += [SideBySide(bands),
                    Line2D([], [], ls="", marker="o", ms=3, color="grey", alpha=0.6, label="one seed")]
    handles.append(Line2D([], [], ls="", marker="o", ms=4, mfc="none", mec="black", mew=0.7,
                          label="final weights (right panel)"))
    _legend(fig, handles, DOUBLE)
    _titles(fig, "Neural predictivity along training", data_label, DOUBLE)
    save_figure(fig, out_png)
    return trajectory_statistics(it)


KIND_STYLE = {"zoo": "tab:blue", "control": "tab:grey", "external": "tab:red"}


def plot_leaderboard(leaderboard_csv, out_png, data_label: str) -> None:
    """Every model of the leaderboard (``goaldriven leaderboard``), one panel per benchmark area:
    the best layer's score (chosen on held-out sites) with its 95% interval, best first."""
    df = read_table(leaderboard_csv, ["benchmark", "area", "model", "kind", "metric", "score", "rank"],
                    dropna=["benchmark", "area", "model"])
    panels = list(df.groupby(["benchmark", "area"], sort=True))
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    n_models = df.groupby(["benchmark", "area"])["model"].nunique().max()
    fig = _figure("leaderboard", nrows * (0.55 + 0.12 * n_models) + 0.8)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.remove()
    labels = {"ev": "median explained variance\n(ceiling-normalised)", "r2": "median signed r²",
              "rsa": "RDM Spearman r"}
    for ax, ((benchmark, area), g) in zip(axes.flat, panels):
        g = g.sort_values("rank", ascending=False)
        y = np.arange(len(g))
        err = np.vstack([g["score"] - g["ci_low"], g["ci_high"] - g["score"]]) if "ci_low" in g else None
        colors = [KIND_STYLE.get(k, "black") for k in g["kind"]]
        ax.barh(y, g["score"], color=colors, alpha=0.8, height=0.7)
        if err is not None and np.isfinite(err).any():
            ax.errorbar(g["score"], y, xerr=np.nan_to_num(np.abs(err)), fmt="none", ecolor="black", lw=0.8, capsize=1.5)
        ax.set_yticks(y, [f"{r.model} ({r.best_layer})" if "best_layer" in g else r.model for r in g.itertuples()])
        ax.set_ylim(-0.6, len(g) - 0.4)
        metric = g["metric"].iloc[0]
        if _brainscore(g) and metric in ("ev", "r2"):
            ax.set_xlabel(BS_LABEL if metric == "ev" else BS_RAW_LABEL)
        else:
            ax.set_xlabel(labels.get(metric, metric))
        ax.set_title(f"{benchmark}: {area}")
        ax.axvline(0, color="black", lw=0.5)
        ax.grid(axis="y", visible=False)
    handles = [Patch(color=c, alpha=0.8, label=k) for k, c in KIND_STYLE.items() if k in set(df["kind"])]
    if "ci_low" in df and df["ci_low"].notna().any():
        handles.append(Line2D([], [], color="black", lw=0.8, marker="|", ms=5, label="95% interval"))
    _legend(fig, handles, DOUBLE, ncols=len(handles))
    _titles(fig, "Leaderboard: best layer (chosen on held-out sites) of every model", data_label, DOUBLE)
    save_figure(fig, out_png)


def _excludes_zero(c) -> np.ndarray:
    """Rows drawn filled: the difference survives Holm's adjustment over the table
    (``survives_holm``); a table without it: the interval excludes 0."""
    marked = c["survives_holm"] if "survives_holm" in c else c["excludes_zero"]
    return marked.astype(str).str.lower().isin(["true", "1", "1.0"]).to_numpy()


def plot_positive_control(table_csv, out_png, data_label: str) -> None:
    """Trained minus each comparison (untrained of the same seed, pixels, V1-like), per score:
    the difference with its 95% interval over seeds, images and sites; a filled point and a solid
    line where the difference survives Holm's adjustment over the table (tables without
    ``survives_holm``: where the interval excludes 0), an open point and a thin line where not."""
    df = read_table(table_csv, ["benchmark", "region", "score", "arch", "task", "comparison", "difference",
                                "difference_low", "difference_high", "excludes_zero"], dropna=["difference"])
    df["panel"] = df["benchmark"] + " · " + df["region"] + "\n" + df["score"]
    panels = list(dict.fromkeys(df["panel"]))
    groups = list(dict.fromkeys(df["arch"] + ", " + df["task"]))
    comparisons = list(dict.fromkeys(df["comparison"]))
    colors = dict(zip(comparisons, sns.color_palette("deep", len(comparisons))))
    nrows = -(-len(panels) // 5)
    ncols = -(-len(panels) // nrows)  # as even rows as can be: no empty panels but in the last row
    fig = _figure("positive_control", nrows * (0.9 + 0.09 * len(groups) * len(comparisons)) + 1.0)
    panel_fig = fig.subfigures(1, 1)  # its x label, then the figure's legend, each in its own space
    axes = panel_fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    for ax in axes.flat[len(panels):]:
        ax.remove()
    step = 1 / (len(comparisons) + 1)
    for ax, panel in zip(axes.flat, panels):
        d = df[df["panel"] == panel]
        for j, comp in enumerate(comparisons):
            c = d[d["comparison"] == comp]
            y = np.array([groups.index(g) + (j + 1) * step - 0.5 for g in c["arch"] + ", " + c["task"]])
            x, lo, hi = c["difference"].values, c["difference_low"].values, c["difference_high"].values
            filled = _excludes_zero(c)
            # the interval as drawn (a point may lie outside its percentile interval)
            ax.hlines(y[filled], lo[filled], hi[filled], color=colors[comp], lw=1.3)
            ax.hlines(y[~filled], lo[~filled], hi[~filled], color=colors[comp], lw=0.7, alpha=0.7)
            ax.scatter(x[filled], y[filled], color=colors[comp], s=12, zorder=3, lw=0)
            ax.scatter(x[~filled], y[~filled], facecolor="white", edgecolor=colors[comp], s=12, lw=0.9, zorder=3)
        ax.axvline(0, color="black", lw=0.7)
        ax.set_yticks(range(len(groups)), groups)
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.grid(axis="y", visible=False)
        for b in np.arange(len(groups) - 1) + 0.5:  # group boundaries
            ax.axhline(b, color="0.85", lw=0.5)
        ax.set_title(_wrap(panel.replace(" · ", " · \n", 1) if len(panel.split("\n")[0]) > 20 else panel,
                           WIDTH["positive_control"] / ncols - 0.25, 7), fontsize=7)
    panel_fig.supxlabel("trained − comparison (the same score)")
    handles = [Line2D([], [], color=colors[c], marker="o", ms=3.5, lw=1.3, label=f"vs {c}") for c in comparisons]
    holm = "survives_holm" in df
    handles += [Line2D([], [], color="black", marker="o", ms=3.5, lw=1.3,
                       label="differs after Holm's adjustment (filled)" if holm else "95% interval excludes 0 (filled)"),
                Line2D([], [], color="black", marker="o", ms=3.5, mfc="white", mew=0.9, lw=0.7, alpha=0.8,
                       label="does not, after Holm (open)" if holm else "95% interval includes 0 (open)")]
    _legend(fig, handles, DOUBLE)
    _titles(fig, "Positive control: does training make networks more brain-like than their controls?",
            data_label, DOUBLE)
    save_figure(fig, out_png)


# The implementation of each figure the registry declares (goaldriven.core.registry.FIGURES:
# its inputs by name; a test checks that each function takes exactly those).
PLOTS = {"montage": plot_montage, "layer_profiles": plot_layer_profiles,
         "performance_vs_it": plot_performance_vs_it, "rsa": plot_rsa, "cka": plot_cka,
         "correspondence": plot_correspondence, "recovery": plot_recovery, "matching": plot_matching,
         "seed_variance": plot_seed_variance, "unit_examples": plot_unit_examples, "trajectory": plot_trajectory,
         "leaderboard": plot_leaderboard, "positive_control": plot_positive_control}


def input_names(name: str) -> dict[str, str]:
    """The named inputs of a figure, each 'required', 'optional' or 'several' (a list of
    files): what ``goaldriven figure NAME --input NAME=PATH`` and the workflow's rule pass."""
    if name not in FIGURES:
        raise InputError(f"unknown figure {name!r}; choose from {sorted(FIGURES)}")
    spec = FIGURES[name]
    return {k: "several" if k in spec.several else "optional" if k in spec.optional else "required"
            for k in spec.inputs}


def make(name: str, inputs: dict, out_png, data_label: str = "") -> pd.DataFrame | None:
    """Command-line entry: ``PLOTS[name](**inputs, out_png=..., data_label=...)``; ``inputs``
    maps each input name (:func:`input_names`) to its file, or to a list of files. Returns the
    statistics the figure computed itself (not drawn: its caption names them), or None."""
    names = input_names(name)
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise InputError(f"figure {name}: unknown input(s) {unknown}; it takes {sorted(names)}")
    missing = [k for k, kind in names.items() if kind != "optional" and k not in inputs]
    if missing:
        raise InputError(f"figure {name}: input(s) {missing} not given (--input NAME=PATH)")
    args = {}
    for key, value in inputs.items():
        files = [value] if isinstance(value, (str, Path)) else list(value)
        if names[key] != "several" and len(files) != 1:
            raise InputError(f"figure {name}: input {key} takes one file, got {len(files)}")
        args[key] = files if names[key] == "several" else files[0]
    return PLOTS[name](**args, out_png=out_png, data_label=data_label)
