"""Every figure at its print size: rendered from small synthetic tables and from the committed
tables of every published study (docs/results/*/published.json), it must fit its column width, have no text
under 7 pt, no legend entry without a label and no empty panel; and each caption's promises
must be true of the tables the figure is drawn from (or of the statistics it computes)."""

import re

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.legend import Legend
from matplotlib.text import Text

from goaldriven.core.registry import FIGURES
from goaldriven.study import figures
from builders import positive_control_csv
from test_figures import _trajectory_table, _unit_examples_table, write_inputs
from workflow_helpers import REPO

# The published studies (outputs of committed locks, tests/workflow/test_published.py).
STUDIES = sorted(p.parent for p in (REPO / "docs/results").glob("*/published.json"))


def published_inputs(study) -> dict:
    """Figures a published study's tables can draw, and from which of them."""
    inputs = {"layer_profiles": {"predictivity_csv": study / "predictivity.csv"},
              "performance_vs_it": {"models_csv": study / "models.csv"},
              "seed_variance": {"models_csv": study / "models.csv", "variance_csv": study / "seed_variance.csv"},
              "leaderboard": {"leaderboard_csv": study / "leaderboard.csv"},
              "positive_control": {"table_csv": study / "positive_control.csv"}}
    return {name: files for name, files in inputs.items() if all(p.is_file() for p in files.values())}


PUBLISHED = [(study, name) for study in STUDIES for name in published_inputs(study)]
# A leaderboard table as the pipeline writes it (no synthetic builder of its own).
LEADERBOARD = next(s / "leaderboard.csv" for s in STUDIES if (s / "leaderboard.csv").is_file())


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, tiny_sets):
    """Inputs of every figure, by input name, from the synthetic tables of test_figures."""
    from goaldriven.data.stimulus_sets import load_stimulus_set
    root = tmp_path_factory.mktemp("print")
    paths = write_inputs(root)
    _trajectory_table().to_csv(root / "trajectory.csv", index=False)
    ids = load_stimulus_set(tiny_sets["test"])["stimulus_id"].values
    unit_table = _unit_examples_table(ids, root)
    positive_control_csv(root / "pc.csv")
    inputs = {name: dict(zip(figures.input_names(name), files)) for name, files in paths.items()}
    inputs["matching"] = {"matching_csvs": paths["matching"]}
    inputs.update({"montage": {"stimuli": tiny_sets["test"]},
                   "trajectory": {"table_csv": root / "trajectory.csv"},
                   "unit_examples": {"table_csv": unit_table, "stimuli_nc": tiny_sets["test"]},
                   "leaderboard": {"leaderboard_csv": LEADERBOARD},
                   "positive_control": {"table_csv": root / "pc.csv"}})
    inputs["rsa"]["references_csv"] = _references(root)
    rsa = pd.read_csv(paths["rsa"][0])  # with the noise ceiling the real tables have
    rsa.assign(rsa_ceiling_low=np.where(rsa["region"] == "IT", 0.6, np.nan),
               rsa_ceiling_high=np.where(rsa["region"] == "IT", 0.8, np.nan)).to_csv(paths["rsa"][0], index=False)
    assert set(inputs) == set(FIGURES)
    return inputs


def _references(root):
    path = root / "references.csv"
    pd.DataFrame({"reference": ["V1_model", "HMAX"], "region": ["IT", "IT"], "rsa": [0.1, 0.2]}).to_csv(path,
                                                                                                       index=False)
    return path


def canvas_problems(fig) -> list[str]:
    """What a reader at print size would stumble on: text under 7 pt, a legend entry with no
    label or no mark, a panel with nothing in it."""
    fig.canvas.draw()  # tick labels exist only once drawn
    problems = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < figures.MIN_FONT - 1e-6:
            problems.append(f"{t.get_fontsize():.1f} pt text {t.get_text()!r}")
    for legend in fig.findobj(Legend):
        labels = [t.get_text() for t in legend.get_texts()]
        problems += [f"legend label {label!r}" for label in labels if not label.strip() or label.startswith("_")]
        if len(legend.legend_handles) != len(labels) or any(h is None for h in legend.legend_handles):
            problems.append(f"legend entries without a mark: {labels}")
    for ax in fig.findobj(Axes):
        if ax.get_visible() and not ax.has_data():
            problems.append(f"empty axes {ax.get_title()!r}")
    return problems


@pytest.fixture
def inspected(monkeypatch):
    """figures.save_figure, checking each figure's canvas before it is saved."""
    found, save = {}, figures.save_figure

    def spy(fig, png):
        found[png.name if hasattr(png, "name") else str(png)] = canvas_problems(fig)
        save(fig, png)

    monkeypatch.setattr(figures, "save_figure", spy)
    return found


def check_print(name, png, problems):
    assert not problems, (name, problems)
    h, w = mpimg.imread(png).shape[:2]
    width, height = w / figures.DPI, h / figures.DPI
    column = figures.WIDTH[name]
    assert column in (figures.SINGLE, figures.DOUBLE)
    # printed at its width: no wider than its column, and not a narrower figure that would be
    # scaled up (a double-column figure is wider than one column)
    assert 0.9 * column <= width <= column + 0.01, (name, width, column)
    assert height <= figures.MAX_HEIGHT, (name, height)


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_at_print_size_from_synthetic_tables(synthetic, inspected, tmp_path, name):
    out = tmp_path / f"{name}.png"
    figures.make(name, synthetic[name], out, data_label="simulated recordings")
    check_print(name, out, inspected[out.name])
    again = tmp_path / f"again_{name}.png"  # the same tables draw the same figure, byte for byte
    figures.make(name, synthetic[name], again, data_label="simulated recordings")
    assert again.read_bytes() == out.read_bytes()
    assert again.with_suffix(".pdf").read_bytes() == out.with_suffix(".pdf").read_bytes()


@pytest.mark.parametrize("study,name", PUBLISHED, ids=[f"{s.name}-{n}" for s, n in PUBLISHED])
def test_every_figure_at_print_size_from_the_published_tables(inspected, tmp_path, study, name):
    out = tmp_path / f"{name}.png"
    figures.make(name, published_inputs(study)[name], out, data_label=f"the published study {study.name}")
    check_print(name, out, inspected[out.name])


def test_the_published_studies_draw_the_figures_of_their_tables():
    assert {s.name for s in STUDIES} >= {"default"}
    assert {n for s, n in PUBLISHED if s.name == "default"} >= {"layer_profiles", "performance_vs_it",
                                                               "seed_variance", "positive_control"}


def test_the_checks_catch_small_text_empty_panels_and_unlabelled_legends():
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    a.plot([0, 1], [0, 1], label="_hidden")
    a.set_title("tiny", fontsize=5)
    a.legend(handles=a.lines, labels=[""])
    problems = canvas_problems(fig)
    plt.close(fig)
    assert any("5.0 pt" in p for p in problems) and any("legend label ''" in p for p in problems)
    assert any("empty axes" in p for p in problems)


# ----------------------------------------------------------------------------- captions
INTERVAL_METHODS = ("bootstrap", "jackknife", "noncentral F", "Fisher")


def caption_body(name) -> str:
    """A caption's own text: up to the 'Drawn from' line the workflow fills in."""
    return (REPO / f"workflow/report/figures/{name}.rst").read_text().split("{#")[0]


def _tables(inputs, stats) -> list[pd.DataFrame]:
    out = [stats] if stats is not None else []
    for value in inputs.values():
        for path in value if isinstance(value, list) else [value]:
            if str(path).endswith(".csv"):
                out.append(pd.read_csv(path))
    return out


@pytest.mark.parametrize("name", list(FIGURES))
def test_each_caption_promises_only_what_the_figures_tables_hold(synthetic, tmp_path, name):
    """A column a caption names (``column``) is in a table the figure is drawn from or in the
    statistics it returns; '95%' needs a named interval (``x_low`` and ``x_high``); an interval
    method the caption names (bootstrap, noncentral F, ...) is the one the tables record."""
    # The tables the pipeline writes where a published study holds them, else the synthetic ones.
    inputs = next((published_inputs(s)[name] for s in STUDIES if name in published_inputs(s)), synthetic[name])
    stats = figures.make(name, inputs, tmp_path / f"{name}.png", data_label="x")
    tables = _tables(inputs, stats)
    columns = set().union(*(t.columns for t in tables)) if tables else set()
    text = caption_body(name)
    named = [c for c in re.findall(r"``([^`]+)``", text) if re.fullmatch(r"[a-z][a-z0-9_]*", c)]
    assert set(named) <= columns, (name, sorted(set(named) - columns))
    if "95%" in text:
        assert any(c.endswith("_low") and c[:-4] + "_high" in named for c in named), \
            f"{name}: the caption promises a 95% interval but names no interval columns"
    cells = " ".join(str(v) for t in tables for c in t.columns if not pd.api.types.is_numeric_dtype(t[c])
                     for v in t[c].dropna().unique())
    printed = {figures.SINGLE: "one column wide", figures.DOUBLE: "two columns wide"}[figures.WIDTH[name]]
    assert printed in " ".join(text.split()), f"{name}: the caption does not say it is printed {printed}"
    for method in INTERVAL_METHODS:
        if method.lower() in text.lower():
            assert method.lower() in cells.lower(), f"{name}: the caption says {method!r}, the tables do not"
