"""The study's figures, drawn with seaborn from the tidy tables of the summary stages.

Every function takes input paths, an output PNG path (a PDF is written beside it) and a data
label that is printed on the figure (e.g. "simulated recordings").
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from scipy.stats import pearsonr  # noqa: E402

from .io import InputError, atomic_path  # noqa: E402

sns.set_theme(style="whitegrid", context="paper", font_scale=1.1)
EV_LABEL = "explained variance\n(fraction of explainable)"
TASK_STYLE = {"supervised": "-", "untrained": "--"}


def save_figure(fig, png_path) -> None:
    png_path = Path(png_path)
    for path, fmt in ((png_path, "png"), (png_path.with_suffix(".pdf"), "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=160, bbox_inches="tight")
    plt.close(fig)


def read_table(path, columns) -> pd.DataFrame:
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}")
    return df


def _ordered_layers(df: pd.DataFrame) -> list[str]:
    return list(df.sort_values("layer_index")["layer"].drop_duplicates())


def _profile(ax, df, value, hue="task"):
    """Mean over seeds per layer (line), spread (sd band) and each seed (points)."""
    layers = _ordered_layers(df)
    x = {layer: i for i, layer in enumerate(layers)}
    palette = dict(zip(sorted(df[hue].unique()), sns.color_palette("deep")))
    for key, g in df.groupby(hue):
        stats = g.groupby("layer")[value].agg(["mean", "std"]).reindex(layers).dropna(how="all")
        xs = [x[layer] for layer in stats.index]
        ax.plot(xs, stats["mean"], TASK_STYLE.get(key, "-"), marker="o", color=palette[key], label=key)
        ax.fill_between(xs, stats["mean"] - stats["std"].fillna(0), stats["mean"] + stats["std"].fillna(0),
                        color=palette[key], alpha=0.2)
        ax.scatter([x[layer] for layer in g["layer"]], g[value], s=8, color=palette[key], alpha=0.4)
        if key == "supervised" and len(stats):
            best = stats["mean"].idxmax()
            ax.scatter([x[best]], [stats["mean"][best]], marker="*", s=160, color=palette[key], zorder=5,
                       edgecolor="black")
    ax.set_xticks(range(len(layers)), layers, rotation=30)


def plot_montage(stimuli_nc, out_png, data_label=""):
    from .stimuli import load_stimulus_set

    da = load_stimulus_set(stimuli_nc)
    cats = da.attrs["categories"].split(",")
    levels = sorted(np.unique(da["variation"].values))
    per_cell = 2
    fig, axes = plt.subplots(len(cats), len(levels) * per_cell, figsize=(1.3 * len(levels) * per_cell, 1.3 * len(cats)))
    axes = np.atleast_2d(axes)
    for i, cat in enumerate(cats):
        for j, level in enumerate(levels):
            idx = np.flatnonzero((da["category_name"].values == cat) & (da["variation"].values == level))
            objects = da["object_name"].values[idx]
            picks = [idx[np.flatnonzero(objects == o)[0]] for o in dict.fromkeys(objects)][:per_cell]
            for k in range(per_cell):
                ax = axes[i, j * per_cell + k]
                ax.set_xticks([]), ax.set_yticks([])
                if k < len(picks):
                    ax.imshow(da.values[picks[k]])
                if i == 0 and k == 0:
                    ax.set_title(f"V{level}", loc="left")
                if j == 0 and k == 0:
                    ax.set_ylabel(cat, rotation=0, ha="right", va="center")
    fig.suptitle(f"Stimulus set: categories x variation levels ({da.sizes['presentation']} images)")
    save_figure(fig, out_png)


def plot_layer_profiles(predictivity_csv, out_png, data_label=""):
    df = read_table(predictivity_csv, ["arch", "task", "seed", "layer", "layer_index", "region", "ev_median"])
    df = df.dropna(subset=["ev_median"])
    archs, regions = sorted(df["arch"].unique()), ["V4", "IT"]
    fig, axes = plt.subplots(len(archs), 2, figsize=(9, 3.2 * len(archs)), squeeze=False, sharey=True)
    for i, arch in enumerate(archs):
        for j, region in enumerate(regions):
            ax = axes[i, j]
            _profile(ax, df[(df["arch"] == arch) & (df["region"] == region)], "ev_median")
            ax.set_title(f"{arch} -> {region}")
            ax.set_ylabel(EV_LABEL if j == 0 else "")
            ax.set_ylim(0, 1)
    axes[0, -1].legend(title="task (star: best layer)", loc="upper left")
    fig.suptitle(f"Neural predictivity per layer, mean ± sd over seeds ({data_label})")
    fig.tight_layout()
    save_figure(fig, out_png)


def plot_performance_vs_it(models_csv, out_png, data_label=""):
    df = read_table(models_csv, ["arch", "task", "seed", "test_accuracy", "it_ev"]).dropna(
        subset=["test_accuracy", "it_ev"])
    df = df.assign(performance=100 * df["test_accuracy"])
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    sns.scatterplot(df, x="performance", y="it_ev", hue="arch", style="task", s=70, ax=ax)
    text = f"n = {len(df)}"
    if len(df) >= 3 and df["performance"].std() > 0 and df["it_ev"].std() > 0:
        r, p = pearsonr(df["performance"], df["it_ev"])
        sns.regplot(df, x="performance", y="it_ev", scatter=False, color="grey", ax=ax)
        text = f"Pearson r = {r:.2f} (p = {p:.2g}), n = {len(df)}"
    ax.text(0.02, 0.97, text + "\nYamins et al. 2014: r = 0.87", transform=ax.transAxes, va="top")
    ax.set_xlabel("categorisation performance (% correct, held-out images)")
    ax.set_ylabel("IT predictivity, best layer\n(fraction of explainable variance)")
    ax.set_title(f"Performance vs IT predictivity ({data_label})")
    save_figure(fig, out_png)


def plot_rsa(rsa_csv, rdms_nc, out_png, data_label=""):
    from .io import open_netcdf

    df = read_table(rsa_csv, ["arch", "task", "seed", "layer", "layer_index", "region", "rsa"]).dropna(subset=["rsa"])
    rdms = open_netcdf(rdms_nc)
    sources = list(rdms["source"].values)
    archs = sorted(df["arch"].unique())
    fig = plt.figure(figsize=(3.2 * max(len(sources), 2 * len(archs)), 7.5))
    grid = fig.add_gridspec(2, max(len(sources), 2 * len(archs)))
    vmax = float(np.nanpercentile(rdms.values, 99))
    for i, src in enumerate(sources):
        ax = fig.add_subplot(grid[0, i])
        im = ax.imshow(rdms.values[i], cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(str(src), fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
        if "category_name" in rdms.coords:
            cats = rdms["category_name"].values
            for edge in np.flatnonzero(cats[1:] != cats[:-1]) + 0.5:
                ax.axhline(edge, color="white", lw=0.4), ax.axvline(edge, color="white", lw=0.4)
    fig.colorbar(im, ax=fig.axes[: len(sources)], label="dissimilarity (1 - Pearson r)", shrink=0.8)
    for k, (arch, region) in enumerate((a, g) for a in archs for g in ("V4", "IT")):
        ax = fig.add_subplot(grid[1, k])
        _profile(ax, df[(df["arch"] == arch) & (df["region"] == region)], "rsa")
        ax.set_title(f"{arch} vs {region} RDM")
        ax.set_ylabel("RDM correlation (Spearman)" if k == 0 else "")
    fig.axes[-1].legend(title="task", loc="best")
    fig.suptitle(f"Representational similarity ({data_label})")
    save_figure(fig, out_png)


def plot_cka(cka_csv, out_png, data_label=""):
    df = read_table(cka_csv, ["arch", "task", "layer", "layer_index", "seed_a", "seed_b", "cka"]).dropna(subset=["cka"])
    archs = sorted(df["arch"].unique())
    fig, axes = plt.subplots(1, len(archs), figsize=(4.8 * len(archs), 3.8), squeeze=False, sharey=True)
    for ax, arch in zip(axes[0], archs):
        _profile(ax, df[df["arch"] == arch], "cka")
        ax.set_title(arch)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("cross-seed linear CKA")
    axes[0, -1].legend(title="task")
    fig.suptitle(f"Convergence across seeds per layer ({df.groupby(['arch', 'task']).size().min()} seed pairs per point)")
    fig.tight_layout()
    save_figure(fig, out_png)


def plot_recovery(recovery_csv, out_png, data_label=""):
    df = read_table(recovery_csv, ["region", "layer", "layer_index", "ev_median", "ground_truth_layer"])
    regions = [g for g in ("V4", "IT") if g in set(df["region"])]
    fig, axes = plt.subplots(1, len(regions), figsize=(4.8 * len(regions), 3.6), squeeze=False, sharey=True)
    for ax, region in zip(axes[0], regions):
        g = df[df["region"] == region].sort_values("layer_index")
        ax.plot(range(len(g)), g["ev_median"], marker="o")
        best = int(np.nanargmax(g["ev_median"].values))
        truth = g["ground_truth_layer"].iloc[0]
        ax.scatter([best], [g["ev_median"].iloc[best]], marker="*", s=250, color="gold", edgecolor="black",
                   zorder=5, label="best layer found")
        if truth in set(g["layer"]):
            ax.axvline(list(g["layer"]).index(truth), ls="--", color="grey", label=f"ground truth ({truth})")
        ok = g["layer"].iloc[best] == truth
        ax.set_title(f"{region}: {'recovered' if ok else 'NOT recovered'}")
        ax.set_xticks(range(len(g)), g["layer"], rotation=30)
        ax.set_ylabel(EV_LABEL)
        ax.legend(loc="lower right")
    fig.suptitle(f"Recovery check: surrogate layers vs the areas they generated ({data_label})")
    fig.tight_layout()
    save_figure(fig, out_png)


def plot_matching(matching_csvs, out_png, data_label=""):
    cols = ["arch", "task", "layer", "layer_index", "seed_a", "seed_b", "matched_r", "chance_r",
            "frac_convergent", "cross_seed_r"]
    df = pd.concat([read_table(p, cols) for p in matching_csvs], ignore_index=True)
    # Relative depth lets architectures of different length share one axis.
    df["depth"] = df["layer_index"] / df.groupby("arch")["layer_index"].transform("max").clip(lower=1)
    archs = sorted(df["arch"].unique())
    fig, axes = plt.subplots(2, len(archs) + 1, figsize=(4.2 * (len(archs) + 1), 7), squeeze=False)
    for j, arch in enumerate(archs):
        d = df[df["arch"] == arch]
        _profile(axes[0, j], d, "matched_r")
        chance = d.groupby("layer_index")["chance_r"].mean()
        axes[0, j].plot(chance.index, chance.values, ":", color="black", label="chance (shuffled)")
        axes[0, j].set_title(f"{arch}: one-to-one unit matching")
        axes[0, j].set_ylabel("matched unit correlation (mean)")
        axes[0, j].set_ylim(0, 1)
        _profile(axes[1, j], d, "cross_seed_r")
        axes[1, j].set_title(f"{arch}: seed -> seed linear mapping")
        axes[1, j].set_ylabel("held-out r (median over units)")
        axes[1, j].set_ylim(0, 1)
    for i, value, label in ((0, "matched_r", "matched unit correlation"), (1, "frac_convergent",
                                                                          "fraction of units above chance")):
        ax = axes[i, -1]
        sns.lineplot(df, x="depth", y=value, hue="arch", style="task", marker="o", errorbar="sd", ax=ax)
        ax.set_xlabel("relative depth (0 = first layer, 1 = top)")
        ax.set_ylabel(label)
        ax.set_ylim(0, 1.02)
        ax.set_title("convergence vs depth")
    axes[0, 0].legend(loc="lower left", fontsize=8)
    fig.suptitle(f"Convergent learning across seeds (Li et al. 2016), {data_label}")
    fig.tight_layout()
    save_figure(fig, out_png)


def plot_seed_variance(models_csv, variance_csv, out_png, data_label=""):
    models = read_table(models_csv, ["arch", "task", "seed", "v4_ev", "it_ev"])
    var = read_table(variance_csv, ["task", "metric", "seed_share", "seed_share_ci_low", "seed_share_ci_high",
                                    "rank_agreement"])
    long = models.melt(id_vars=["arch", "task", "seed"], value_vars=["v4_ev", "it_ev"], var_name="metric",
                       value_name="score")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), squeeze=False)
    for ax, metric, area in zip(axes[0], ("v4_ev", "it_ev"), ("V4", "IT")):
        d = long[long["metric"] == metric]
        sns.stripplot(d, x="arch", y="score", hue="task", dodge=True, size=7, ax=ax, jitter=0.15)
        sns.pointplot(d, x="arch", y="score", hue="task", dodge=0.4, errorbar=None, markers="_",
                      linestyles="none", color="black", ax=ax, legend=False)
        notes = [f"{r.task}: seed share {r.seed_share:.0%} [{r.seed_share_ci_low:.0%}, {r.seed_share_ci_high:.0%}],"
                 f" same ranking {r.rank_agreement:.0%}" for r in var[var["metric"] == metric].itertuples()]
        ax.set_title(f"{area} predictivity of the best layer, one point per seed")
        ax.text(0.01, -0.2, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=8)
        ax.set_ylabel(EV_LABEL)
        ax.set_xlabel("architecture")
    fig.suptitle(f"Seed spread of brain scores next to architecture differences ({data_label})")
    fig.tight_layout()
    save_figure(fig, out_png)


FIGURES = {"montage": plot_montage, "layer_profiles": plot_layer_profiles,
           "performance_vs_it": plot_performance_vs_it, "rsa": plot_rsa, "cka": plot_cka,
           "recovery": plot_recovery, "matching": plot_matching, "seed_variance": plot_seed_variance}
MULTI_INPUT = {"matching"}  # figures that take a list of tables


def make(name: str, inputs, out_png, data_label: str = "") -> None:
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; choose from {sorted(FIGURES)}")
    if name in MULTI_INPUT:
        FIGURES[name](list(inputs), out_png, data_label=data_label)
    else:
        FIGURES[name](*inputs, out_png, data_label=data_label)
