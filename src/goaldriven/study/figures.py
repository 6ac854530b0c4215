"""The study's figures, drawn with seaborn/matplotlib from the tidy tables of the summary stages.

Every ``plot_*`` function takes its inputs (paths, or already loaded DataFrames/DataArrays),
an output PNG path (a PDF with the same stem is written beside it) and a ``data_label`` that
is printed under the title, so that a figure made from simulated recordings says so.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are drawn in batch jobs with no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ..core.io import InputError, atomic_path, open_netcdf  # noqa: E402
from ..core.registry import FIGURES  # noqa: E402
from .statistics import arch_bootstrap_r, correlation_ci  # noqa: E402
from ..data.assemblies import is_rdm_assembly  # noqa: E402

sns.set_theme(style="whitegrid", context="paper", font_scale=1.15)
DPI = 200
EV_LABEL = "explained variance\n(fraction of explainable variance)"
MEDIAN_EV_LABEL = "explained variance, median over sites\n(fraction of explainable variance)"
REGIONS = ("V4", "IT")
TASK_STYLE = {"supervised": "-", "untrained": "--"}
VARIATION_NAMES = {0: "no variation", 3: "medium variation", 6: "high variation"}


# ----------------------------------------------------------------------------- helpers
def save_figure(fig, png_path) -> None:
    """Write ``x.png`` and ``x.pdf``, both or neither (atomic renames), and close ``fig``."""
    png_path = Path(png_path)
    try:
        # Nested so that a failure in the second savefig leaves neither file behind.
        with atomic_path(png_path) as png_tmp, atomic_path(png_path.with_suffix(".pdf")) as pdf_tmp:
            # The temporary names end in a random suffix, so the format must be explicit.
            fig.savefig(png_tmp, format="png", dpi=DPI, bbox_inches="tight")
            # No creation date: a figure is a result, the same bytes on every rerun.
            fig.savefig(pdf_tmp, format="pdf", bbox_inches="tight", metadata={"CreationDate": None})
    finally:
        plt.close(fig)


def read_table(src, columns, dropna=None) -> pd.DataFrame:
    """A tidy table from a CSV path or DataFrame, with ``columns`` checked and rows with NaN in
    ``dropna`` (default: all of ``columns``) dropped."""
    name = "<DataFrame>" if isinstance(src, pd.DataFrame) else str(src)
    if isinstance(src, pd.DataFrame):
        df = src.copy()
    else:
        try:
            df = pd.read_csv(src)
        except FileNotFoundError:
            raise InputError(f"{name}: file not found") from None
        except pd.errors.EmptyDataError:
            raise InputError(f"{name}: empty file") from None
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


def _titles(fig, title: str, data_label: str) -> None:
    fig.suptitle(title + (f"\ndata: {data_label}" if data_label else ""))


def _task_colors(tasks) -> dict:
    """Fixed colours per task, supervised first, so that every figure uses the same ones."""
    ordered = [t for t in TASK_STYLE if t in set(tasks)] + sorted(set(tasks) - set(TASK_STYLE))
    return dict(zip(ordered, sns.color_palette("deep")))


def _arch_colors(archs) -> dict:
    """Architecture colours distinct from the task colours (blue, orange), so the two never mix."""
    archs = sorted(set(archs))
    return dict(zip(archs, sns.color_palette("deep", len(archs) + 2)[2:]))


def _ordered_layers(df: pd.DataFrame) -> list[str]:
    return list(df.sort_values("layer_index")["layer"].drop_duplicates())


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
            ax.scatter([pos[best]], [st["mean"][best]], marker="*", s=200, color=c, edgecolor="black",
                       zorder=5)
    ax.set_xticks(range(len(layers)), layers, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_xlabel("layer (input → output)")


def _raw_r2_note(df) -> str:
    """A title line naming the regions scored without a ceiling (no single trials), if any."""
    if "ceiling_normalised" not in df or df["ceiling_normalised"].astype(bool).all():
        return ""
    raw = sorted(df.loc[~df["ceiling_normalised"].astype(bool), "region"].unique())
    return f"\n({', '.join(raw)}: no single trials, so raw r² instead of the ceiling-normalised value)"


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


def _mean_band_seeds(ax, x, st, seed_x, seed_y, color, style) -> None:
    """Mean over seeds (line), +-1 sd band (none with one seed) and each seed (faint dots)."""
    sd = st["std"].fillna(0.0)
    ax.plot(x, st["mean"], style, marker="o", ms=4, lw=1.6, color=color)
    ax.fill_between(x, st["mean"] - sd, st["mean"] + sd, color=color, alpha=0.2, lw=0)
    ax.scatter(seed_x, seed_y, s=10, color=color, alpha=0.45, lw=0, zorder=3)


def _profile_legend(fig, colors, counts, unit="seed", mark_best=True, extra=()):
    """One legend for the whole figure, outside the panels, with the n behind each task's line."""
    several = max(counts.values(), default=1) > 1
    labels = {t: f"{t} (mean of {n} {unit}{'s' * (n != 1)})" if several else f"{t} (1 {unit})"
              for t, n in counts.items()}
    handles = [Line2D([], [], color=c, ls=TASK_STYLE.get(t, ":"), marker="o", ms=4, label=labels[t])
               for t, c in colors.items()]
    if several:  # with one seed there is no spread to explain
        handles += [Patch(color="grey", alpha=0.3, label=f"±1 sd over {unit}s"),
                    Line2D([], [], ls="", marker="o", ms=4, color="grey", alpha=0.6, label=f"individual {unit}")]
    if mark_best:
        handles.append(Line2D([], [], ls="", marker="*", ms=12, color=colors.get("supervised", "grey"),
                              markeredgecolor="black", label="best layer (supervised)"))
    handles += list(extra)
    # Below the panels: a legend at the upper right would collide with the centred suptitle.
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), frameon=False)


def _n_pairs(df) -> dict:
    """Seed pairs per layer (not rows), the unit of the spread shown, per task."""
    return df.groupby(["task", "arch", "layer"]).size().groupby("task").max().to_dict()


def _profile_panels(fig, df, value, ylabel, title="{arch} → {region}"):
    """Rows = architecture, columns = region, on a figure or subfigure; with the shared legend."""
    colors, archs = _task_colors(df["task"]), sorted(df["arch"].unique())
    regions = [g for g in REGIONS if g in set(df["region"])] + sorted(set(df["region"]) - set(REGIONS))
    axes = fig.subplots(len(archs), len(regions), squeeze=False, sharey=True)
    for (i, arch), (j, region) in ((a, r) for a in enumerate(archs) for r in enumerate(regions)):
        ax = axes[i, j]
        _profile(ax, df[(df["arch"] == arch) & (df["region"] == region)], value, colors)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(title.format(arch=arch, region=region), fontsize=10)
        ax.set_xlabel(ax.get_xlabel() if i == len(archs) - 1 else "")  # x label on the bottom row only
    fig.supylabel(ylabel, fontsize=11)  # one label for all rows: a long label per row would overlap
    _profile_legend(fig, colors, df.groupby("task")["seed"].nunique().to_dict())
    return axes


# ----------------------------------------------------------------------------- figures
def plot_montage(stimuli, out_png, data_label: str, *, per_cell: int = 3) -> None:
    """Example images: rows = categories, column groups = variation levels, different objects."""
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
    # A narrow empty column between variation levels groups the images visually.
    widths = sum(([1] * per_cell + [0.25] for _ in levels), [])[:-1]
    fig, axes = plt.subplots(len(cats), len(widths), figsize=(0.95 * sum(widths) + 1.3, 1.1 * len(cats) + 1.4),
                             squeeze=False, width_ratios=widths, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.02, hspace=0.02)
    for ax in axes.flat:
        ax.axis("off")
    for i, cat in enumerate(cats):
        for j, level in enumerate(levels):
            idx = np.flatnonzero((cat_of == cat) & (var_of == level))
            # First image of each distinct object, then more poses if there are too few objects.
            firsts = [idx[np.argmax(obj_of[idx] == o)] for o in dict.fromkeys(obj_of[idx])]
            picks = (firsts + [k for k in idx if k not in firsts])[:per_cell]
            for k, p in enumerate(picks):
                ax = axes[i, j * (per_cell + 1) + k]
                ax.imshow(da.values[p], interpolation="nearest")
                ax.set_xlabel(str(obj_of[p]), fontsize=6, labelpad=1)
                ax.axis("on"), ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            if i == 0:
                ax0 = axes[0, j * (per_cell + 1) + (per_cell - 1) // 2]
                ax0.set_title(f"V{level}\n{VARIATION_NAMES.get(int(level), '')}", fontsize=10,
                              loc="center" if per_cell % 2 else "left")
        axes[i, 0].text(-0.08, 0.5, cat, transform=axes[i, 0].transAxes, ha="right", va="center", fontsize=10)
    _titles(fig, f"Stimulus set: {da.sizes['presentation']} images, {len(cats)} categories × "
                 f"{len(levels)} variation levels", data_label)
    save_figure(fig, out_png)


def plot_layer_profiles(predictivity_csv, out_png, data_label: str) -> None:
    """Ceiling-normalised explained variance of every layer, per architecture and region."""
    df = read_table(predictivity_csv, ["arch", "task", "seed", "layer", "layer_index", "region", "ev_median"])
    n_archs, n_regions = df["arch"].nunique(), df["region"].nunique()
    fig = plt.figure(figsize=(3.8 * n_regions + 2, 2.9 * n_archs + 1.2), layout="constrained")
    axes = _profile_panels(fig, df, "ev_median", _ev_axis_label(df))
    # 0..1 is the meaningful range; widen only if a value falls outside it.
    axes[0, 0].set_ylim(min(0, df["ev_median"].min() - 0.05), max(1, df["ev_median"].max() + 0.02))
    _titles(fig, "Neural predictivity of each layer" + _raw_r2_note(df), data_label)
    save_figure(fig, out_png)


def _pearson_ci(x, y) -> dict | None:
    """``statistics.correlation_ci`` (seeded, so a figure is the same on every run), or None
    where r cannot be computed (fewer than 3 points, or no variation)."""
    try:
        return correlation_ci(x, y, n_boot=10000, seed=0)
    except ValueError:
        return None


def _format_r(ci: dict | None, what: str, sep: str = "\n") -> str:
    if ci is None:
        return f"Pearson r not computed (n = {what}, too few or no variation)"
    return f"Pearson r = {ci['r']:.2f}, 95% CI [{ci['low']:.2f}, {ci['high']:.2f}] ({ci['method']}){sep}n = {what}"


def correlation_label(x, y, what: str) -> str:
    """Pearson r with its 95% interval (a bootstrap over the points, Fisher-z below 4 points;
    the method is named), or why it was not computed; ``what`` names the points."""
    return _format_r(_pearson_ci(x, y), what)


def _format_arch_r(ci: dict, what: str) -> str:
    if not np.isfinite(ci["r"]):
        return f"{what}: Pearson r not computed (n = {ci['n']}, too few or no variation)"
    interval = (f"95% CI [{ci['low']:.2f}, {ci['high']:.2f}] (bootstrap over architectures)"
                if np.isfinite(ci["low"]) else "no interval: resampling architectures needs ≥ 3")
    return f"{what}: r = {ci['r']:.2f}\n{interval}; n = {ci['n']} models of {ci['n_archs']} architectures"


def plot_performance_vs_it(models_csv, out_png, data_label: str) -> None:
    """Categorisation performance against IT predictivity (layer chosen on held-out sites), one
    point per model. The headline is r within trained models: over trained and untrained
    models together r mostly says that the two clusters differ."""
    df = read_table(models_csv, ["arch", "task", "seed", "test_accuracy", "it_ev"])
    df = df.assign(performance=100 * df["test_accuracy"].astype(float))
    fig, ax = plt.subplots(figsize=(7, 4.8), layout="constrained")
    trained = df[df["task"] == "supervised"]
    headline = arch_bootstrap_r(trained, "performance", "it_ev")
    lines = [_format_arch_r(headline, "trained (supervised) models")]
    if len(trained) < len(df):
        lines.append(_format_arch_r(arch_bootstrap_r(df, "performance", "it_ev"),
                                    "all models (driven by the trained vs untrained clusters)"))
    if np.isfinite(headline["r"]):
        # No seaborn band (its bootstrap is unseeded and treats seeds as independent models).
        sns.regplot(trained, x="performance", y="it_ev", scatter=False, ci=None, color="grey", ax=ax,
                    line_kws={"lw": 1.2, "ls": "-"})
        lines[0] += " (grey: their least-squares line)"
    sns.scatterplot(df, x="performance", y="it_ev", hue="arch", style="task", s=80, ax=ax,
                    palette=_arch_colors(df["arch"]), style_order=list(_task_colors(df["task"])))
    ax.set_title("\n".join(lines), fontsize=9)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    ax.set_xlabel("categorisation performance (test accuracy, %)")
    ax.set_ylabel("IT predictivity (layer chosen on held-out sites):\n" + _column_label(df, "it_ev").replace("\n", " "),
                  fontsize=9)
    _titles(fig, "Categorisation performance vs IT predictivity", data_label)
    save_figure(fig, out_png)


def _load_rdms(rdms) -> xr.DataArray:
    da = rdms if isinstance(rdms, xr.DataArray) else open_netcdf(rdms)
    if not is_rdm_assembly(da):
        name = "<DataArray>" if isinstance(rdms, xr.DataArray) else str(rdms)
        raise InputError(f"{name}: expected dims ('source', 'stimulus_a', 'stimulus_b'), got {da.dims}")
    return da


def plot_rsa(rsa_csv, rdms_nc, out_png, data_label: str, references_csv=None) -> None:
    """Top: the RDMs of the areas and of a model layer. Bottom: per-layer RSA with seed spread,
    and reference models' RSA (e.g. a V1 model, HMAX) as dashed lines where given."""
    df = read_table(rsa_csv, ["arch", "task", "seed", "layer", "layer_index", "region", "rsa"])
    refs = pd.read_csv(references_csv) if references_csv else pd.DataFrame(columns=["reference", "region", "rsa"])
    rdms = _load_rdms(rdms_nc)
    sources = [str(s) for s in rdms["source"].values]
    n_archs = df["arch"].nunique()
    fig = plt.figure(figsize=(max(10, 3 * len(sources) + 1.5), 3.6 + 2.9 * n_archs), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.6, 2.9 * n_archs])
    values = rdms.values
    vmax = float(np.nanpercentile(values, 99)) if np.isfinite(values).any() else 1.0
    cats = rdms["category_name"].values if "category_name" in rdms.coords else None
    for i, (ax, src) in enumerate(zip(top.subplots(1, len(sources), squeeze=False)[0], sources)):
        im = ax.imshow(values[i], cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(src.replace(" · ", "\n"), fontsize=9)  # "model · layer" on two lines
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        if cats is not None:  # stimuli are sorted by category: draw block edges, name the blocks
            edges = np.flatnonzero(cats[1:] != cats[:-1]) + 0.5
            for e in edges:
                ax.axhline(e, color="white", lw=0.5), ax.axvline(e, color="white", lw=0.5)
            if i == 0:
                bounds = np.r_[-0.5, edges, len(cats) - 0.5]
                ax.set_yticks((bounds[:-1] + bounds[1:]) / 2, cats[(bounds[:-1] + 0.5).astype(int)], fontsize=8)
    top.colorbar(im, ax=top.axes, label="dissimilarity (1 - Pearson r)", shrink=0.9,
                 extend="max" if np.nanmax(values) > vmax else "neither")
    top.suptitle(f"Representational dissimilarity matrices ({rdms.sizes['stimulus_a']} images, "
                 "sorted by category)", fontsize=10)
    axes = _profile_panels(bottom, df, "rsa", "RDM similarity (Spearman ρ)", title="{arch} layers vs {region} RDM")
    styles = dict(zip(sorted(refs["reference"].unique()), ["--", ":", "-."] * 4))
    for ax in axes.flat:
        region = ax.get_title().rsplit(" vs ", 1)[-1].removesuffix(" RDM")
        ceiling = df.loc[df["region"] == region, ["rsa_ceiling_low", "rsa_ceiling_high"]].dropna() \
            if "rsa_ceiling_low" in df else pd.DataFrame()
        if len(ceiling):  # the noise ceiling: what a perfect model could reach given the data's noise
            ax.axhspan(ceiling.iloc[0, 0], ceiling.iloc[0, 1], color="grey", alpha=0.25, lw=0)
            ax.annotate("noise ceiling", (0.01, ceiling.iloc[0, 0]), xycoords=("axes fraction", "data"),
                        va="top", fontsize=7, color="dimgrey")
        rows = refs[refs["region"] == region].sort_values("rsa")
        for k, (_, ref) in enumerate(rows.iterrows()):
            ax.axhline(ref["rsa"], color="dimgrey", ls=styles[ref["reference"]], lw=1.2)
            # Labels alternate below/above their line so that close references stay readable.
            ax.annotate(ref["reference"], (1.0, ref["rsa"]), xycoords=("axes fraction", "data"), ha="right",
                        va="top" if k % 2 == 0 else "bottom", fontsize=7, color="dimgrey")
    _titles(fig, "Representational similarity analysis", data_label)
    save_figure(fig, out_png)


def plot_cka(similarity_csv, out_png, data_label: str) -> None:
    """Cross-seed debiased linear CKA per layer, with its references: the shuffled-image null
    (grey band up to its 95th percentile), each other architecture at matched relative depth
    (same task) and raw pixels (the floor), from ``goaldriven similarity``'s table."""
    from ..compare.similarity import depth_matched

    cols = ["model_a", "model_b", "arch_a", "arch_b", "task_a", "task_b", "seed_a", "seed_b", "layer_a", "layer_b",
            "layer_index_a", "layer_index_b", "depth_a", "depth_b", "cka_debiased", "null_p95"]
    df = depth_matched(read_table(similarity_csv, cols, dropna=["cka_debiased"]))
    colors, archs = _task_colors(df["task"]), sorted(df["arch"].unique())
    arch_colors = _arch_colors(archs)
    fig, axes = plt.subplots(1, len(archs), figsize=(4.2 * len(archs) + 2.6, 4.2), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, arch in zip(axes[0], archs):
        d = df[df["arch"] == arch]
        layers = _ordered_layers(d)
        null = d.groupby("layer")["null_p95"].mean().reindex(layers)
        ax.fill_between(range(len(layers)), 0, null.values, color="grey", alpha=0.3, lw=0)
        seeds = d[d["reference"] == "cross-seed"]
        if len(seeds):
            _profile(ax, seeds, "cka_debiased", colors, mark_best=False)
        first_task = next(t for t in colors if t in set(d["task"]))
        for ref, g in d[d["reference"] != "cross-seed"].groupby("reference"):
            for task, gt in g.groupby("task"):
                if ref == "pixels" and task != first_task:
                    continue  # one floor per panel: the supervised networks' similarity to pixels
                m = gt.groupby("layer")["cka_debiased"].mean().reindex(layers)
                color = "black" if ref == "pixels" else arch_colors.get(ref[3:], "grey")
                ax.plot(range(len(layers)), m.values, ls=":" if ref == "pixels" else TASK_STYLE.get(task, ":"),
                        color=color, lw=1.2, marker="s" if ref != "pixels" else None, ms=3, alpha=0.9)
        ax.set_xticks(range(len(layers)), layers, rotation=30, ha="right", rotation_mode="anchor")
        ax.set_xlabel("layer (input → output)")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(arch)
        ax.set_ylim(min(-0.05, float(np.nanmin(d["cka_debiased"])) - 0.02), 1.02)
        ax.set_ylabel("debiased linear CKA" if ax is axes[0, 0] else "")
    extra = [Patch(color="grey", alpha=0.3, label="null: shuffled images (95th pct)"),
             Line2D([], [], ls=":", color="black", label=f"raw pixels (floor; {next(iter(colors))})")]
    extra += [Line2D([], [], color=c, marker="s", ms=3, label=f"vs {a} at matched depth (same task)")
              for a, c in arch_colors.items() if f"vs {a}" in set(df["reference"])]
    counts = _n_pairs(df[df["reference"] == "cross-seed"]) if (df["reference"] == "cross-seed").any() else {}
    _profile_legend(fig, {t: c for t, c in colors.items() if t in counts} or colors, counts or {t: 1 for t in colors},
                    unit="seed pair", mark_best=False, extra=extra)
    _titles(fig, "Convergence across seeds per layer, against other architectures and pixels "
                 "(debiased CKA: 0 = unrelated)", data_label)
    save_figure(fig, out_png)


def plot_correspondence(similarity_csv, out_png, data_label: str) -> None:
    """Layer x layer debiased CKA (Kornblith et al. 2019's correspondence test): two seeds of
    each architecture (first task, first two seeds) and two architectures (seed 0 of each)."""
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
    panels = [tuple(g["model"].iloc[:2]) for _, g in models.groupby("arch") if len(g) >= 2]
    firsts = [g["model"].iloc[0] for _, g in models.groupby("arch")]
    panels += [(a, b) for a, b in zip(firsts, firsts[1:])]
    if not panels:
        raise InputError(f"{similarity_csv}: no two models of one task to compare")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 1.5, 3.8), squeeze=False,
                             layout="constrained")
    for ax, (ma, mb) in zip(axes[0], panels):
        S = layer_square(df, ma, mb)
        im = ax.imshow(S.values, vmin=0, vmax=1, cmap="viridis", origin="lower")
        best = np.nanargmax(S.values, axis=1)
        ax.scatter(best, range(len(S)), marker="o", facecolor="none", edgecolor="white", s=60)
        ax.set_xticks(range(S.shape[1]), S.columns, rotation=45, ha="right", rotation_mode="anchor", fontsize=8)
        ax.set_yticks(range(S.shape[0]), S.index, fontsize=8)
        ax.set(xlabel=mb, ylabel=ma)
        same = S.shape[0] == S.shape[1] and ma.split("/")[0] == mb.split("/")[0]
        ax.set_title(f"corresponding: {layer_correspondence(S.values):.0%}" if same else "two architectures",
                     fontsize=10)
        ax.grid(False)
    fig.colorbar(im, ax=axes[0].tolist(), label="debiased linear CKA", shrink=0.8)
    _titles(fig, "Layer correspondence: is layer i of one network most like layer i of another?\n"
                 "(circles: each row's most similar layer)", data_label)
    save_figure(fig, out_png)


def plot_recovery(recovery_csv, out_png, data_label: str) -> None:
    """Sanity check on simulated data: is the surrogate layer that generated an area found best?"""
    df = read_table(recovery_csv, ["region", "layer", "layer_index", "ev_median", "ground_truth_layer"])
    regions = [g for g in REGIONS if g in set(df["region"])] + sorted(set(df["region"]) - set(REGIONS))
    fig, axes = plt.subplots(1, len(regions), figsize=(4.2 * len(regions) + 2.4, 3.8), squeeze=False,
                             sharey=True, layout="constrained")
    for ax, region in zip(axes[0], regions):
        g = df[df["region"] == region].sort_values("layer_index").drop_duplicates("layer")
        layers, ev = list(g["layer"]), g["ev_median"].to_numpy(float)
        best, truth = int(np.argmax(ev)), g["ground_truth_layer"].iloc[0]
        ax.plot(range(len(g)), ev, marker="o", color="C0")
        ax.scatter([best], [ev[best]], marker="*", s=260, color="gold", edgecolor="black", zorder=5)
        if truth in layers:
            ax.axvline(layers.index(truth), ls="--", color="dimgrey")
        ok = layers[best] == truth
        ax.set_title(f"{region}: {'recovered' if ok else 'NOT recovered'}\n(best {layers[best]}, truth {truth})",
                     color="black" if ok else "firebrick", fontsize=10)
        ax.set_xticks(range(len(g)), layers, rotation=30, ha="right", rotation_mode="anchor")
        ax.set_xlabel("surrogate-network layer (input → output)")
        ax.set_ylabel(MEDIAN_EV_LABEL if ax is axes[0, 0] else "")
    fig.legend(handles=[Line2D([], [], color="C0", marker="o", label="predictivity of the layer"),
                        Line2D([], [], ls="", marker="*", ms=14, color="gold", markeredgecolor="black",
                               label="best layer found"),
                        Line2D([], [], ls="--", color="dimgrey", label="ground-truth layer\n(generated the area)")],
               loc="outside lower center", ncols=3, frameon=False)
    _titles(fig, "Recovery check: does the analysis find the layer that generated each area?", data_label)
    save_figure(fig, out_png)


def plot_matching(matching_csvs, out_png, data_label: str) -> None:
    """Convergent learning (Li et al. 2016): one-to-one unit matching and seed-to-seed mapping."""
    cols = ["arch", "task", "layer", "layer_index", "seed_a", "seed_b", "matched_r", "chance_r",
            "frac_convergent", "cross_seed_r"]
    paths = [matching_csvs] if isinstance(matching_csvs, (str, Path, pd.DataFrame)) else matching_csvs
    df = pd.concat([read_table(p, cols) for p in paths], ignore_index=True)
    # Relative depth lets architectures of different length share one axis.
    df["depth"] = df["layer_index"] / df.groupby("arch")["layer_index"].transform("max").clip(lower=1)
    colors, archs = _task_colors(df["task"]), sorted(df["arch"].unique())
    fig, axes = plt.subplots(2, len(archs) + 1, figsize=(4 * (len(archs) + 1) + 2.6, 7.5), squeeze=False,
                             layout="constrained")
    for j, arch in enumerate(archs):
        d = df[df["arch"] == arch]
        _profile(axes[0, j], d, "matched_r", colors, mark_best=False)
        pos = {layer: i for i, layer in enumerate(_ordered_layers(d))}
        chance = d.groupby("layer")["chance_r"].mean()
        axes[0, j].plot(chance.index.map(pos), chance.values, ":", color="black")
        axes[0, j].set_title(f"{arch}: one-to-one unit matching")
        axes[0, j].set_ylabel("matched-unit correlation\n(mean over units)")
        _profile(axes[1, j], d, "cross_seed_r", colors, mark_best=False)
        axes[1, j].set_title(f"{arch}: seed → seed linear mapping")
        axes[1, j].set_ylabel("held-out r\n(median over units)")
        for ax in axes[:, j]:
            ax.set_ylim(0, 1.02)
    for i, value, label in ((0, "matched_r", "matched-unit correlation"),
                            (1, "frac_convergent", "fraction of units above chance")):
        ax = axes[i, -1]
        sns.lineplot(df, x="depth", y=value, hue="arch", style="task", marker="o", errorbar="sd", ax=ax,
                     legend=i == 0, palette=_arch_colors(archs))
        ax.set(xlabel="relative depth (0 = first layer, 1 = top)", ylabel=label, ylim=(0, 1.02),
               title="all architectures vs depth")
    sns.move_legend(axes[0, -1], "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    _profile_legend(fig, colors, _n_pairs(df), unit="seed pair", mark_best=False,
                    extra=[Line2D([], [], ls=":", color="black", label="chance (shuffled images)")])
    _titles(fig, "Convergent learning across seeds (Li et al. 2016)", data_label)
    save_figure(fig, out_png)


def _pct(x) -> str:
    return "n/a" if pd.isna(x) else f"{x:.0%}"


def _share_note(r) -> str:
    """One task's seed share, its exact interval, the design, what excluding 0.5 would need, the
    pairwise ranking tests and the metric's own noise beside the seed spread."""
    text = (f"{r.task} ({r.n_archs} archs × {r.n_seeds} seeds): seed share {_pct(r.share_fixed)} "
            f"[{_pct(r.share_fixed_low)}, {_pct(r.share_fixed_high)}] these archs")
    if pd.notna(getattr(r, "share_random_low", np.nan)):
        text += f", [{_pct(r.share_random_low)}, {_pct(r.share_random_high)}] archs drawn at random"
    if r.share_fixed_high < 0.5 or r.share_fixed_low > 0.5:
        text += ": excludes 50%"
    elif pd.notna(getattr(r, "seeds_to_exclude_half", np.nan)):
        text += f"\n    excluding 50% would need ~{r.seeds_to_exclude_half:.0f} seeds/arch"
    else:
        text += "\n    no feasible number of seeds would exclude 50%"
    text += (f"\n    ranking: {r.n_pairs_robust} of {r.n_pairs} arch pairs differ at Holm p < 0.05 "
             f"(Mann-Whitney; needs ≥ {getattr(r, 'min_seeds_for_ranking_test', 4):.0f} seeds/arch)")
    if pd.notna(getattr(r, "retest_sd", np.nan)):
        unit = "images" if str(getattr(r, "metric", "")).endswith("_rsa") else "sites"  # RSA: image halves
        text += f"\n    score's own noise sd {r.retest_sd:.3f} ({unit})"
        if pd.notna(getattr(r, "retest_images_sd", np.nan)):
            text += f", {r.retest_images_sd:.3f} (images)"
        text += f" vs seed sd {r.seed_sd:.3f}"
    return text


def plot_seed_variance(models_csv, variance_csv, out_png, data_label: str) -> None:
    """Brain scores of every seed (layer chosen on held-out sites) next to the differences between
    architectures, with the seed share and its exact interval, the pairwise ranking tests and,
    as a bar on each mean, the score's own test-retest noise (two halves of the sites)."""
    models = read_table(models_csv, ["arch", "task", "seed", "v4_ev", "it_ev"])
    var = read_table(variance_csv, ["task", "metric", "n_archs", "n_seeds", "share_fixed", "share_fixed_low",
                                    "share_fixed_high", "n_pairs", "n_pairs_robust"], dropna=["task", "metric"])
    colors, archs = _task_colors(models["task"]), sorted(models["arch"].unique())
    # The dodge of seaborn's stripplot: hue i of m centred at -0.4 + 0.8 (i + 0.5) / m.
    offset = {t: -0.4 + 0.8 * (i + 0.5) / len(colors) for i, t in enumerate(colors)}
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), squeeze=False, layout="constrained")
    for ax, metric, area in zip(axes[0], ("v4_ev", "it_ev"), REGIONS):
        d = models.melt(id_vars=["arch", "task", "seed"], value_vars=[metric], value_name="score")
        state = np.random.get_state()  # seaborn jitters with numpy's global generator: seeded, so
        np.random.seed(0)  # that the same tables draw a byte-identical figure
        try:
            sns.stripplot(d, x="arch", y="score", hue="task", order=archs, palette=colors,
                          hue_order=list(colors), dodge=True, size=7, jitter=0.1, ax=ax, legend=False)
        finally:
            np.random.set_state(state)
        rows = var[var["metric"] == metric]
        noise = dict(zip(rows["task"], rows["retest_sd"])) if "retest_sd" in rows else {}
        for (arch, task), g in models.groupby(["arch", "task"]):
            x = archs.index(arch) + offset[task]
            ax.plot([x - 0.12, x + 0.12], [g[metric].mean()] * 2, color="black", lw=2, zorder=4)
            if pd.notna(noise.get(task, np.nan)):  # how far the metric alone moves a score
                ax.errorbar(x + 0.15, g[metric].mean(), yerr=noise[task], color="dimgrey", capsize=3, lw=1.2)
        ax.set_title(f"{area} predictivity (layer chosen on held-out sites)", fontsize=10)
        ax.text(0.0, 1.08, "\n".join(_share_note(r) for r in rows.itertuples()), transform=ax.transAxes,
                va="bottom", ha="left", fontsize=8)
        ax.set(ylabel=_column_label(models, metric), xlabel="architecture")
    handles = [Line2D([], [], ls="", marker="o", color=c, label=f"{t}: one seed") for t, c in colors.items()]
    handles += [Line2D([], [], ls="", marker="_", ms=14, mew=2, color="black", label="mean over seeds"),
                Line2D([], [], color="dimgrey", marker="_", ms=8, label="±1 sd of the score's own noise\n"
                       "(two halves of the sites)")]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    interval = (var["interval_fixed"].dropna().iloc[0] if "interval_fixed" in var
                and var["interval_fixed"].notna().any() else "")
    _titles(fig, "Seed-to-seed spread of brain scores next to architecture differences\n"
                 f"(seed share = seed variance / (seed + architecture variance){', ' + interval if interval else ''})",
            data_label)
    save_figure(fig, out_png)


KIND_COLORS = {"most": "darkgreen", "least": "firebrick", "most_active": "navy", "least_active": "dimgrey"}
KIND_NAMES = {"most": "most convergent", "least": "least convergent", "most_active": "most active",
              "least_active": "least active"}


def plot_unit_examples(table_csv, stimuli_nc, out_png, data_label: str) -> None:
    """The images that drive the most and the least convergent units of a layer most, and the
    most and least active units of seed a (Li et al. 2016, Figs. S11-S12), where the table has
    them: one row per matched pair of units, seed a's top images on the left, its match's in seed b on the
    right (the table of ``goaldriven unit-examples``)."""
    columns = ["model_a", "model_b", "layer", "unit_type", "kind", "rank", "unit_a", "unit_b", "r", "image_rank",
               "stimulus_id_a", "stimulus_id_b"]
    df = read_table(table_csv, columns)
    name = "<DataFrame>" if isinstance(table_csv, pd.DataFrame) else str(table_csv)
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
    units = df.drop_duplicates(["kind", "rank"]).sort_values(["kind_order", "rank"])
    k = int(df["image_rank"].max())
    widths = [1] * k + [0.3] + [1] * k  # a narrow gap between the two seeds
    # A fixed grid of 1-inch images, no layout engine: it would widen the columns under the
    # group titles. Labels outside the grid are kept by the tight bounding box on saving.
    n_rows, n_cols, wspace, hspace, top_in = len(units), len(widths), 0.05, 0.08, 1.3
    grid_w = sum(widths) / n_cols * (n_cols + wspace * (n_cols - 1))
    height = n_rows + hspace * (n_rows - 1) + top_in + 0.1
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(grid_w / 0.96, height), squeeze=False,
                             gridspec_kw={"width_ratios": widths, "wspace": wspace, "hspace": hspace, "left": 0.02,
                                          "right": 0.98, "top": 1 - top_in / height, "bottom": 0.1 / height})
    for ax in axes.flat:
        ax.axis("off")
    for i, u in enumerate(units.itertuples()):
        images = df[(df["kind"] == u.kind) & (df["rank"] == u.rank)].sort_values("image_rank")
        for offset, ids in ((0, images["stimulus_id_a"]), (k + 1, images["stimulus_id_b"])):
            for j, sid in enumerate(ids.astype(str)):
                ax = axes[i, offset + j]
                ax.imshow(stimuli.values[where[sid]], interpolation="nearest")
                ax.axis("on"), ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        label = f"{KIND_NAMES.get(u.kind, u.kind)} #{u.rank}\n{u.unit_type} {u.unit_a} ↔ {u.unit_b}\nr = {u.r:.2f}"
        axes[i, 0].text(-0.1, 0.5, label, transform=axes[i, 0].transAxes, ha="right", va="center", fontsize=9,
                        color=KIND_COLORS.get(u.kind, "black"))
    first = units.iloc[0]
    for offset, model in ((0, first["model_a"]), (k + 1, first["model_b"])):
        left, right = axes[0, offset].get_position(), axes[0, offset + k - 1].get_position()
        fig.text((left.x0 + right.x1) / 2, left.y1 + 0.08 / height, f"{model}: its {k} strongest images",
                 ha="center", va="bottom", fontsize=10)
    _titles(fig, f"Most and least convergent (and active) {first['unit_type']}s of {first['layer']} across seeds\n"
                 "(one-to-one matching by correlation; images ranked by each unit's response)", data_label)
    save_figure(fig, out_png)


def _epoch_lines(ax, df, colors) -> None:
    """Per architecture and task: mean over seeds against epoch (line), +-1 sd band, each seed
    (faint dots). An untrained control is one point, at epoch 0."""
    for (arch, task), g in df.groupby(["arch", "task"]):
        st = g.groupby("epoch")["ev_median"].agg(["mean", "std"])
        _mean_band_seeds(ax, st.index, st, g["epoch"], g["ev_median"], colors[arch], TASK_STYLE.get(task, ":"))
    ax.axhline(0, color="black", lw=0.6)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("training epoch (0 = untrained)")


def _task_marker(task: str) -> str:
    return {"supervised": "o", "untrained": "X"}.get(task, "s")


def _performance_panel(ax, it, colors, name) -> None:
    """Test accuracy against IT predictivity, every model and checkpoint; each run's
    checkpoints joined in epoch order, its final weights edged in black; r and its CI on top."""
    it = it.dropna(subset=["test_accuracy"]).sort_values("epoch")
    if it.empty:
        raise InputError(f"{name}: no IT rows with a test_accuracy, so no performance panel")
    it = it.assign(performance=100 * it["test_accuracy"].astype(float))
    for model, g in it.groupby("model"):
        c = colors[g["arch"].iloc[0]]
        ax.plot(g["performance"], g["ev_median"], "-", lw=0.8, color=c, alpha=0.5)
        marker = _task_marker(g["task"].iloc[0])
        ax.scatter(g["performance"], g["ev_median"], s=40, color=c, marker=marker, alpha=0.8, lw=0, zorder=3)
        final = g[g["final"].astype(bool)]
        ax.scatter(final["performance"], final["ev_median"], s=40, marker=marker, facecolor="none",
                   edgecolor="black", lw=1, zorder=4)
    ax.set_title(correlation_label(it["performance"], it["ev_median"],
                                   f"{len(it)} checkpoints of {it['model'].nunique()} models"), fontsize=9)
    # Checkpoints of one run are not independent samples, so the interval is optimistic.
    ax.text(1.03, 0.0, "Checkpoints of one\nrun are not independent:\nthe interval is optimistic.",
            transform=ax.transAxes, va="bottom", fontsize=8, style="italic", color="dimgrey")
    ax.set_xlabel("categorisation performance (test accuracy, %)")
    ax.set_ylabel("IT predictivity (layer chosen on held-out sites):\n"
                  + _ev_axis_label(it, median=False).replace("\n", " "), fontsize=9)


def plot_trajectory(table_csv, out_png, data_label: str) -> None:
    """Neural predictivity along training (the table of ``goaldriven trajectory``): each
    region's best-layer predictivity against epoch, and categorisation performance against IT
    predictivity across every model and checkpoint."""
    df = read_table(table_csv, ["model", "arch", "task", "seed", "epoch", "final", "test_accuracy", "region",
                                "ev_median"], dropna=["ev_median"])
    name = "<DataFrame>" if isinstance(table_csv, pd.DataFrame) else str(table_csv)
    regions = [g for g in REGIONS if g in set(df["region"])] + sorted(set(df["region"]) - set(REGIONS))
    if "IT" not in regions:
        raise InputError(f"{name}: no IT rows; the figure sets categorisation performance against IT predictivity")
    colors = _arch_colors(df["arch"])
    fig = plt.figure(figsize=(3.8 * len(regions) + 6, 5), layout="constrained")
    axes = fig.subplots(1, len(regions) + 1, width_ratios=[1] * len(regions) + [1.3])
    for ax, region in zip(axes, regions):
        if ax is not axes[0]:
            ax.sharey(axes[0])
        _epoch_lines(ax, df[df["region"] == region], colors)
        ax.set_title(f"{region}: layer chosen on held-out sites,\nalong training", fontsize=10)
    axes[0].set_ylabel(_ev_axis_label(df))
    _performance_panel(axes[-1], df[df["region"] == "IT"], colors, name)
    seeds = df.groupby(["arch", "task"])["seed"].nunique()
    handles = [Line2D([], [], color=colors[a], ls=TASK_STYLE.get(t, ":"), marker="o", ms=4,
                      label=f"{a} {t} (mean of {n} seed{'s' * (n != 1)})") for (a, t), n in seeds.items()]
    if seeds.max() > 1:  # with one seed there is no spread to explain
        handles += [Patch(color="grey", alpha=0.3, label="±1 sd over seeds"),
                    Line2D([], [], ls="", marker="o", ms=4, color="grey", alpha=0.6, label="individual seed")]
    handles += [Line2D([], [], ls="", marker=_task_marker(t), ms=7, color="grey", label=f"{t} checkpoint (right)")
                for t in dict.fromkeys(df.dropna(subset=["test_accuracy"])["task"])]  # tasks in that panel
    handles.append(Line2D([], [], ls="", marker="o", ms=7, color="grey", markeredgecolor="black",
                          label="final weights (right)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3), frameon=False)
    _titles(fig, "Neural predictivity along training" + _raw_r2_note(df), data_label)
    save_figure(fig, out_png)


KIND_STYLE = {"zoo": "tab:blue", "control": "tab:grey", "external": "tab:red"}


def plot_leaderboard(leaderboard_csv, out_png, data_label: str) -> None:
    """Every model of the leaderboard (``goaldriven leaderboard``), one panel per benchmark area:
    the best layer's score (chosen on held-out sites) with its 95% interval, best first."""
    df = read_table(leaderboard_csv, ["benchmark", "area", "model", "kind", "metric", "score", "rank"],
                    dropna=["benchmark", "area", "model"])
    panels = list(df.groupby(["benchmark", "area"], sort=True))
    n_models = df["model"].nunique()
    fig = plt.figure(figsize=(4.2 * len(panels), 1.2 + 0.32 * n_models), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    labels = {"ev": "median explained variance\n(ceiling-normalised)", "r2": "median signed r²", "rsa": "RDM Spearman r"}
    for ax, ((benchmark, area), g) in zip(axes, panels):
        g = g.sort_values("rank", ascending=False)
        y = np.arange(len(g))
        err = np.vstack([g["score"] - g["ci_low"], g["ci_high"] - g["score"]]) if "ci_low" in g else None
        colors = [KIND_STYLE.get(k, "black") for k in g["kind"]]
        ax.barh(y, g["score"], color=colors, alpha=0.8)
        if err is not None and np.isfinite(err).any():
            ax.errorbar(g["score"], y, xerr=np.nan_to_num(np.abs(err)), fmt="none", ecolor="black", lw=1, capsize=2)
        ax.set_yticks(y, [f"{r.model} ({r.best_layer})" if "best_layer" in g else r.model for r in g.itertuples()],
                      fontsize=8)
        metric = g["metric"].iloc[0]
        if _brainscore(g) and metric in ("ev", "r2"):
            ax.set_xlabel(BS_LABEL if metric == "ev" else BS_RAW_LABEL, fontsize=9)
        else:
            ax.set_xlabel(labels.get(metric, metric), fontsize=9)
        ax.set_title(f"{benchmark}: {area}", fontsize=10)
        ax.axvline(0, color="black", lw=0.5)
    handles = [Patch(color=c, alpha=0.8, label=k) for k, c in KIND_STYLE.items() if k in set(df["kind"])]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    _titles(fig, "Leaderboard: best layer (chosen on held-out sites) of every model, 95% interval", data_label)
    save_figure(fig, out_png)


def plot_positive_control(table_csv, out_png, data_label: str) -> None:
    """Trained minus each comparison (untrained of the same seed, pixels, V1-like), per score:
    the difference with its 95% interval over seeds, images and sites; filled where the
    difference survives Holm's adjustment over the table (``survives_holm``; tables without
    it: where the interval excludes 0)."""
    df = read_table(table_csv, ["benchmark", "region", "score", "arch", "task", "comparison", "difference",
                                "difference_low", "difference_high", "excludes_zero"], dropna=["difference"])
    df["panel"] = df["benchmark"] + " · " + df["region"] + "\n" + df["score"]
    panels = list(dict.fromkeys(df["panel"]))
    groups = list(dict.fromkeys(df["arch"] + " · " + df["task"]))
    comparisons = list(dict.fromkeys(df["comparison"]))
    colors = dict(zip(comparisons, sns.color_palette("deep", len(comparisons))))
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 0.45 * len(groups) * len(comparisons) * 0.6 * nrows
                                                          + 1.8 * nrows), squeeze=False, layout="constrained")
    step = 1 / (len(comparisons) + 1)
    for ax, panel in zip(axes.flat, panels):
        d = df[df["panel"] == panel]
        for j, comp in enumerate(comparisons):
            c = d[d["comparison"] == comp]
            y = [groups.index(g) + (j + 1) * step - 0.5 for g in c["arch"] + " · " + c["task"]]
            x, lo, hi = c["difference"].values, c["difference_low"].values, c["difference_high"].values
            # the interval as drawn (a point may lie outside its percentile interval)
            ax.hlines(y, lo, hi, color=colors[comp], lw=1.2)
            marked = c["survives_holm"] if "survives_holm" in c else c["excludes_zero"]
            filled = marked.astype(str).str.lower().isin(["true", "1"]).values
            ax.scatter(x[filled], np.asarray(y)[filled], color=colors[comp], s=22, zorder=3)
            ax.scatter(x[~filled], np.asarray(y)[~filled], facecolor="white", edgecolor=colors[comp], s=22, zorder=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(groups)), groups, fontsize=8)
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("trained − comparison (same score)")
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=colors[c], marker="o", ls="-", label=c) for c in comparisons]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    filled = "Holm-adjusted p < 0.05" if "survives_holm" in df else "excludes 0"
    _titles(fig, "Positive control: trained minus comparison, 95% interval over seeds, images and sites "
                 f"(filled: {filled}); layer chosen on held-out halves", data_label)
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


def make(name: str, inputs: dict, out_png, data_label: str = "") -> None:
    """Command-line entry: ``PLOTS[name](**inputs, out_png=..., data_label=...)``; ``inputs``
    maps each input name (:func:`input_names`) to its file, or to a list of files."""
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
    PLOTS[name](**args, out_png=out_png, data_label=data_label)
